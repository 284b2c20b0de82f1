// Node entry point (Node >= 18): the same API as index.js. `await init()` reads the .wasm next
// to this package and instantiates it synchronously; the key vault and the chain allocator
// keep their state in files (lib/node-store.js).

import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { loadModule } from './lib/api.js';
import { ChainAllocator as ChainAllocatorBase } from './lib/chain.js';
import { checkPassphrase } from './lib/crypto.js';
import { invalidArgument } from './lib/error.js';
import { FileChainStore, FileKeyStore, FileOutboxStore } from './lib/node-store.js';
import { Outbox as OutboxBase } from './lib/outbox.js';
import { KeyVault as KeyVaultBase, checkUnitId } from './lib/vault.js';

export * from './lib/public.js';

// Node 18 has WebCrypto only as `require('node:crypto').webcrypto`; getrandom (key
// generation) and the vault use `globalThis.crypto`.
if (!globalThis.crypto?.subtle) {
  Object.defineProperty(globalThis, 'crypto', { value: webcrypto, configurable: true, writable: true });
}

const SIGN_WASM = new URL('./dist/zatca_sign_bg.wasm', import.meta.url);
const TOOLS_WASM = new URL('./dist/zatca_tools_bg.wasm', import.meta.url);
const PDF_WASM = new URL('./dist/zatca_pdf_bg.wasm', import.meta.url);
const RULES_WASM = new URL('./dist/zatca_rules_bg.wasm', import.meta.url);

function instantiate(glue, source, fallback) {
  if (source === undefined) {
    glue.initSync({ module: readFileSync(fallback) });
  } else if (source instanceof URL || typeof source === 'string') {
    glue.initSync({ module: readFileSync(source) });
  } else {
    glue.initSync({ module: source });
  }
}

/** Loads the signing module (once). `options.module`: a path, file URL, bytes or WebAssembly.Module. */
export async function init(options = {}) {
  await loadModule('sign', (glue) => instantiate(glue, options.module, SIGN_WASM));
}

/** Loads the tools module (once), and the signing module. */
export async function initTools(options = {}) {
  await init();
  await loadModule('tools', (glue) => instantiate(glue, options.module, TOOLS_WASM));
}

/** Loads the PDF module (once), and the signing module. */
export async function initPdf(options = {}) {
  await init();
  await loadModule('pdf', (glue) => instantiate(glue, options.module, PDF_WASM));
}

/** Loads the validation module (once; `validate`). It does not need the signing module. */
export async function initRules(options = {}) {
  await loadModule('rules', (glue) => instantiate(glue, options.module, RULES_WASM));
}

export default init;

const loaders = { init: () => init(), initTools: () => initTools() };

function pathOf(options) {
  if (typeof options?.path !== 'string' || options.path === '') {
    throw invalidArgument('path', 'expected the path of the file to keep the state in');
  }
  return options.path;
}

/** Key custody in a passphrase-encrypted file: see lib/vault.js. */
export class KeyVault extends KeyVaultBase {
  /**
   * Opens (or prepares, when the file does not exist yet) the vault file at `path`. With an
   * existing key, a wrong passphrase fails here with `wrong_passphrase`.
   * @param {{ path: string, passphrase: string, egsUnitId?: string, iterations?: number }} options
   */
  static async open(options) {
    const path = pathOf(options);
    if (typeof options.passphrase !== 'string') throw invalidArgument('passphrase', 'expected a string');
    const probe = new FileKeyStore(path, '', options.passphrase, options.iterations);
    const recorded = await probe.recordedUnitId();
    if (recorded !== null && options.egsUnitId !== undefined && options.egsUnitId !== recorded) {
      throw invalidArgument('egsUnitId', `${path} holds the key of ${recorded}, not ${options.egsUnitId}`);
    }
    // A new vault needs a real passphrase (same rule as exportBackup).
    if (recorded === null) checkPassphrase(options.passphrase);
    const id = checkUnitId(recorded ?? options.egsUnitId ?? 'default');
    const store = new FileKeyStore(path, id, options.passphrase, options.iterations);
    const vault = new KeyVault(store, loaders);
    if (recorded !== null) await vault.check();
    return vault;
  }
}

/** ICV/PIH allocation in files: see lib/chain.js. */
export class ChainAllocator extends ChainAllocatorBase {
  /**
   * @param {{ path: string, egsUnitId?: string, initial?: { icv: number, pih: string }, lockTimeoutMs?: number }} options
   */
  static async open(options) {
    const path = pathOf(options);
    const id = options.egsUnitId === undefined ? undefined : checkUnitId(options.egsUnitId);
    return new ChainAllocator(new FileChainStore(path, id, options.initial, options.lockTimeoutMs));
  }
}

/** Signed documents waiting for the relay, in a file: see lib/outbox.js. */
export class Outbox extends OutboxBase {
  /** @param {{ path: string, client: import('./lib/relay.js').RelayClient | null, nearDeadlineMs?: number, lockTimeoutMs?: number }} options */
  static async open(options) {
    const path = pathOf(options);
    return new Outbox(new FileOutboxStore(path, options.lockTimeoutMs), options.client ?? null, options);
  }
}
