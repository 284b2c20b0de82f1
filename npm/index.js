// Browser (and bundler) entry point. `await init()` loads the signing module, `await
// initTools()` the tools module; both fetch the .wasm next to this package
// (`new URL(…, import.meta.url)`, which bundlers such as Vite and webpack 5 understand) unless
// given a source. Node gets the same API from node.js.

import { loadModule } from './lib/api.js';
import { IdbChainStore, IdbKeyStore, openDatabase } from './lib/browser.js';
import { ChainAllocator as ChainAllocatorBase } from './lib/chain.js';
import { invalidArgument } from './lib/error.js';
import { Outbox as OutboxBase } from './lib/outbox.js';
import { IdbOutboxStore, openOutboxDatabase } from './lib/outbox-idb.js';
import { KeyVault as KeyVaultBase, checkUnitId } from './lib/vault.js';

export * from './lib/public.js';

const SIGN_WASM = new URL('./dist/zatca_sign_bg.wasm', import.meta.url);
const TOOLS_WASM = new URL('./dist/zatca_tools_bg.wasm', import.meta.url);
const PDF_WASM = new URL('./dist/zatca_pdf_bg.wasm', import.meta.url);
const RULES_WASM = new URL('./dist/zatca_rules_bg.wasm', import.meta.url);

/** Loads the signing module (once). `options.module`: a URL, Response, bytes or WebAssembly.Module. */
export async function init(options = {}) {
  await loadModule('sign', (glue) => glue.default({ module_or_path: options.module ?? SIGN_WASM }));
}

/** Loads the tools module (once), and the signing module. */
export async function initTools(options = {}) {
  await Promise.all([
    init(),
    loadModule('tools', (glue) => glue.default({ module_or_path: options.module ?? TOOLS_WASM })),
  ]);
}

/** Loads the PDF module (once), and the signing module. */
export async function initPdf(options = {}) {
  await Promise.all([
    init(),
    loadModule('pdf', (glue) => glue.default({ module_or_path: options.module ?? PDF_WASM })),
  ]);
}

/** Loads the validation module (once; `validate`). It does not need the signing module. */
export async function initRules(options = {}) {
  await loadModule('rules', (glue) => glue.default({ module_or_path: options.module ?? RULES_WASM }));
}

export default init;

const loaders = { init: () => init(), initTools: () => initTools() };

function dbNameOf(options) {
  const name = options.dbName ?? 'zatca';
  if (typeof name !== 'string' || name === '') throw invalidArgument('dbName', 'expected a non-empty string');
  return name;
}

/** Key custody in IndexedDB: see lib/vault.js. */
export class KeyVault extends KeyVaultBase {
  /** @param {{ egsUnitId: string, dbName?: string }} options */
  static async open(options) {
    if (!options || typeof options !== 'object') throw invalidArgument('options', 'expected { egsUnitId }');
    const id = checkUnitId(options.egsUnitId);
    const db = await openDatabase(dbNameOf(options));
    return new KeyVault(new IdbKeyStore(db, id), loaders);
  }
}

/** ICV/PIH allocation in IndexedDB under Web Locks: see lib/chain.js. */
export class ChainAllocator extends ChainAllocatorBase {
  /** @param {{ egsUnitId: string, dbName?: string, initial?: { icv: number, pih: string } }} options */
  static async open(options) {
    if (!options || typeof options !== 'object') throw invalidArgument('options', 'expected { egsUnitId }');
    const id = checkUnitId(options.egsUnitId);
    const name = dbNameOf(options);
    const db = await openDatabase(name);
    return new ChainAllocator(new IdbChainStore(db, name, id, options.initial));
  }
}

/** Signed documents waiting for the relay, in IndexedDB: see lib/outbox.js. */
export class Outbox extends OutboxBase {
  /** @param {{ client: import('./lib/relay.js').RelayClient | null, dbName?: string, nearDeadlineMs?: number }} options */
  static async open(options = {}) {
    const name = options.dbName ?? 'zatca-outbox';
    if (typeof name !== 'string' || name === '') throw invalidArgument('dbName', 'expected a non-empty string');
    const db = await openOutboxDatabase(name);
    return new Outbox(new IdbOutboxStore(db, name), options.client ?? null, options);
  }
}
