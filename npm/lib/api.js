// The package's functions over the two WebAssembly modules (generated into ../dist by
// scripts/build.sh): input normalisation, "not initialised" and trap handling. No ZATCA logic
// lives here; every function forwards to one export of wasm/bindings.
//
// The signing module (build, sign, hash, chain, certificate info, QR decoding) is loaded by
// `init()`; the tools module (verify, keys, CSR, QR encoding and images) by `initTools()`; the
// PDF module (renderPdf, with its fonts) by `initPdf()`; the validation module (validate:
// UBL 2.1 structure and ZATCA's rules) by `initRules()`.

import * as sign from '../dist/zatca_sign.js';
import * as pdf from '../dist/zatca_pdf.js';
import * as rules from '../dist/zatca_rules.js';
import * as tools from '../dist/zatca_tools.js';
import { ZatcaError, invalidArgument } from './error.js';

export { INITIAL_PIH } from './constants.js';

const modules = {
  sign: { exports: sign, ready: false, loading: null, name: 'signing', init: 'init()' },
  tools: { exports: tools, ready: false, loading: null, name: 'tools', init: 'initTools()' },
  pdf: { exports: pdf, ready: false, loading: null, name: 'PDF', init: 'initPdf()' },
  rules: { exports: rules, ready: false, loading: null, name: 'validation', init: 'initRules()' },
};

/**
 * Loads one module once. `load(glue)` instantiates it (async in browsers, `initSync` in Node).
 * @param {'sign' | 'tools' | 'pdf' | 'rules'} which
 * @param {(glue: any) => unknown} load
 */
export async function loadModule(which, load) {
  const m = modules[which];
  if (m.ready) return;
  m.loading ??= (async () => {
    try {
      await load(m.exports);
      m.ready = true;
    } catch (e) {
      m.loading = null;
      throw new ZatcaError('wasm_load_failed', `cannot load the ${m.name} WebAssembly module: ${e?.message ?? e}`, {
        cause: e,
      });
    }
  })();
  await m.loading;
}

/** Whether a module is loaded. */
export function isLoaded(which) {
  return modules[which].ready;
}

function need(which) {
  const m = modules[which];
  if (!m.ready) {
    throw new ZatcaError('not_initialized', `the ${m.name} module is not loaded: call \`await ${m.init}\` first`);
  }
  return m.exports;
}

/** Calls an export; a WebAssembly trap (a Rust panic) becomes a ZatcaError `internal`. */
function call(which, name, ...args) {
  const exports = need(which);
  try {
    return exports[name](...args);
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      let detail = null;
      try {
        detail = exports.lastPanic();
      } catch {
        // The module may be unusable after a trap; the original message is enough then.
      }
      throw new ZatcaError('internal', `internal error in the WebAssembly module: ${detail ?? e.message}`, { cause: e });
    }
    throw e;
  }
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string, or a view of binary input (not copied). */
export function bytes(value, path) {
  if (typeof value === 'string') return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw invalidArgument(path, 'expected a string, Uint8Array or ArrayBuffer');
}

/** A fresh copy of key material for an export that wipes its argument. */
function keyCopy(key) {
  if (typeof key === 'string') return encoder.encode(key);
  const view = bytes(key, 'signer.key');
  return view.slice();
}

function text(value, path) {
  if (typeof value !== 'string') throw invalidArgument(path, 'expected a string');
  return value;
}

function invoiceJson(input) {
  if (typeof input === 'string') return input;
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) return JSON.stringify(input);
  throw invalidArgument('input', 'expected an invoice object or its JSON text');
}

function signerArgs(signer) {
  if (signer === null || typeof signer !== 'object') {
    throw invalidArgument('signer', 'expected { key, certificate }');
  }
  return [keyCopy(signer.key), text(signer.certificate, 'signer.certificate')];
}

// ---------------------------------------------------------------- signing module

/** `zatca-wasm` version and git commit of the loaded signing module. */
export function version() {
  return call('sign', 'version');
}

/** Validates the input and writes the unsigned UBL 2.1 XML. */
export function buildInvoice(input, chain) {
  return call('sign', 'buildInvoice', invoiceJson(input), chain);
}

/** Builds and signs an invoice with a key you hold (PEM text or DER bytes; not modified). */
export function signInvoice(input, chain, signer, options) {
  const [key, certificate] = signerArgs(signer);
  try {
    return call('sign', 'signInvoice', invoiceJson(input), chain, key, certificate, options);
  } finally {
    key.fill(0);
  }
}

/** Signs an unsigned (or re-signs a signed) UBL invoice. */
export function signXml(xml, signer, options) {
  const [key, certificate] = signerArgs(signer);
  try {
    return call('sign', 'signXml', bytes(xml, 'xml'), key, certificate, options);
  } finally {
    key.fill(0);
  }
}

/**
 * Signing with key bytes that the call consumes: the WebAssembly side copies them into zeroized
 * memory and overwrites `keyBytes` with zeros. Used by the key vault.
 */
export function signInvoiceConsumingKey(input, chain, keyBytes, certificate, options) {
  try {
    return call('sign', 'signInvoice', invoiceJson(input), chain, keyBytes, certificate, options);
  } finally {
    keyBytes.fill(0);
  }
}

/** See signInvoiceConsumingKey. */
export function signXmlConsumingKey(xml, keyBytes, certificate, options) {
  try {
    return call('sign', 'signXml', bytes(xml, 'xml'), keyBytes, certificate, options);
  } finally {
    keyBytes.fill(0);
  }
}

/** ZATCA invoice hash (base64) of a document, signed or not. */
export function invoiceHash(xml) {
  return call('sign', 'invoiceHash', bytes(xml, 'xml'));
}

/** Removes the signature blocks, keeping every other byte. */
export function stripSignature(xml) {
  return call('sign', 'stripSignature', bytes(xml, 'xml'));
}

/** The PIH of the next document: the invoice hash of this signed one. */
export function nextPih(signedXml) {
  return call('sign', 'nextPih', bytes(signedXml, 'signedXml'));
}

/** Whether a string is a valid PIH (base64 SHA-256, or the initial value). */
export function isValidPih(pih) {
  return typeof pih === 'string' && call('sign', 'isValidPih', pih);
}

/** Describes a certificate (PEM, base64 DER, or a CSID binarySecurityToken). */
export function certificateInfo(certificate) {
  return call('sign', 'certificateInfo', text(certificate, 'certificate'));
}

/** Decodes a QR payload into its fields. */
export function qrDecode(qr) {
  return call('sign', 'qrDecode', text(qr, 'qr'));
}

/** Decodes a QR payload into raw TLVs. */
export function qrDecodeTlv(qr) {
  return call('sign', 'qrDecodeTlv', text(qr, 'qr'));
}

/** One `tag name: value` line per TLV. */
export function qrDescribe(qr) {
  return call('sign', 'qrDescribe', text(qr, 'qr'));
}

// ---------------------------------------------------------------- tools module

/** Verifies a signed document; findings are in `issues`. */
export function verifyInvoice(xml, options = {}) {
  return call('tools', 'verifyInvoice', bytes(xml, 'xml'), options?.expectedPih ?? undefined);
}

/** The QR payload embedded in a document. */
export function embeddedQr(xml) {
  return call('tools', 'embeddedQr', bytes(xml, 'xml'));
}

/** Builds the onboarding CSR with a key you hold (not modified). */
export function buildCsr(config, key, environment) {
  const copy = keyCopy(key);
  try {
    return call('tools', 'buildCsr', config, copy, text(environment, 'environment'));
  } finally {
    copy.fill(0);
  }
}

/** See signInvoiceConsumingKey. */
export function buildCsrConsumingKey(config, keyBytes, environment) {
  try {
    return call('tools', 'buildCsr', config, keyBytes, text(environment, 'environment'));
  } finally {
    keyBytes.fill(0);
  }
}

/** Parses a CSR (PEM, DER, or ZATCA's base64-of-PEM) and checks its signature. */
export function parseCsr(csr) {
  return call('tools', 'parseCsr', bytes(csr, 'csr'));
}

/** Reads the ZATCA SDK's csr-config.properties. */
export function csrConfigFromProperties(properties) {
  return call('tools', 'csrConfigFromProperties', text(properties, 'properties'));
}

/** Encodes QR fields as base64 TLV. */
export function qrEncode(fields) {
  return call('tools', 'qrEncode', fields);
}

/** The QR symbol as an SVG document. */
export function qrSvg(qr) {
  return call('tools', 'qrSvg', text(qr, 'qr'));
}

/** The QR symbol as PNG bytes. */
export function qrPng(qr, modulePx = 6) {
  if (!Number.isInteger(modulePx) || modulePx < 0 || modulePx > 0xffffffff) {
    throw invalidArgument('modulePx', 'expected a positive integer');
  }
  return call('tools', 'qrPng', text(qr, 'qr'), modulePx);
}

/** The SubjectPublicKeyInfo DER of a private key you hold (not modified). */
export function publicKeyOf(key) {
  return call('tools', 'publicKeyOf', keyCopy(key));
}

/** Internal (key vault): a new private key as SEC1 DER. Secret. */
export function generatePrivateKeyBytes() {
  return call('tools', 'generatePrivateKey');
}

/** Internal (key vault): parses key material (consumed) and returns SEC1 DER. Secret. */
export function normalizePrivateKeyConsuming(keyBytes) {
  try {
    return call('tools', 'normalizePrivateKey', keyBytes);
  } finally {
    keyBytes.fill(0);
  }
}

/** Internal (key vault): public key of key bytes that the call consumes. */
export function publicKeyOfConsuming(keyBytes) {
  try {
    return call('tools', 'publicKeyOf', keyBytes);
  } finally {
    keyBytes.fill(0);
  }
}

/** Internal: a copy of key input (string or bytes) for a consuming call. */
export { keyCopy };

// ---------------------------------------------------------------- PDF module

/** The bilingual PDF/A-3b of a signed or cleared document (bytes). */
export function renderPdf(xml) {
  return call('pdf', 'renderPdf', bytes(xml, 'xml'));
}

// ---------------------------------------------------------------- validation module

/**
 * ZATCA's checks before sending: the UBL 2.1 structure (`XSD`) and the implemented schematron
 * rules, each finding with its rule id, severity, location and messages. Validation module
 * (`initRules()`).
 */
export function validate(xml, options = {}) {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'expected { pih?, now?, unsigned? }');
  const pih = options.pih ?? undefined;
  if (pih !== undefined && typeof pih !== 'string') throw invalidArgument('options.pih', 'expected a base64 string');
  const now = options.now ?? undefined;
  if (now !== undefined && (typeof now !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(now))) {
    throw invalidArgument('options.now', 'expected the current UTC time as YYYY-MM-DDTHH:MM:SS');
  }
  const unsigned = options.unsigned ?? false;
  if (typeof unsigned !== 'boolean') throw invalidArgument('options.unsigned', 'expected a boolean');
  return call('rules', 'validate', bytes(xml, 'xml'), pih, now, unsigned);
}

/**
 * An invoice request (the object or JSON text `buildInvoice` takes) checked as the core and
 * ZATCA's rules see it: the core's input checks, then the rules on the XML the core writes from
 * it, each finding at its JSON field where it maps back to one. Validation module (`initRules()`).
 */
export function validateInput(input, options = {}) {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'expected { now? }');
  const now = options.now ?? undefined;
  if (now !== undefined && (typeof now !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(now))) {
    throw invalidArgument('options.now', 'expected the current UTC time as YYYY-MM-DDTHH:MM:SS');
  }
  return call('rules', 'validateInput', encoder.encode(invoiceJson(input)), now);
}
