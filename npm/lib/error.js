// ZatcaError: the one error type of the package.
//
// Errors thrown by the WebAssembly modules are plain `Error` objects that the Rust side names
// "ZatcaError" and gives `code`, `path`, `rule`, `severity` and `issues` (wasm/bindings/src/error.rs);
// errors raised by the JavaScript layer (key vault, chain allocator, loaders) are instances of
// the class below with the same fields. `instanceof ZatcaError` is true for both.

export class ZatcaError extends Error {
  /**
   * @param {string} code stable snake_case code
   * @param {string} message
   * @param {{ path?: string | null, rule?: string | null, cause?: unknown }} [options]
   */
  constructor(code, message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ZatcaError';
    this.code = code;
    this.path = options.path ?? null;
    this.rule = options.rule ?? null;
    this.severity = 'error';
    this.issues = [{ code, path: this.path, message, rule: this.rule, severity: 'error' }];
  }

  static [Symbol.hasInstance](value) {
    return value instanceof Error && value.name === 'ZatcaError' && typeof value.code === 'string';
  }
}

/** Whether `value` is a ZatcaError (from WebAssembly or from JavaScript). */
export function isZatcaError(value) {
  return value instanceof ZatcaError;
}

export function invalidArgument(path, message) {
  return new ZatcaError('invalid_argument', `${path}: ${message}`, { path });
}

/**
 * Codes raised by the JavaScript layer (loaders, key vault, chain allocator), in addition to
 * the core's and the bindings' codes. test/contract.test.mjs keeps index.d.ts's ZatcaErrorCode
 * equal to the union of all three.
 */
export const JS_ERROR_CODES = Object.freeze([
  'chain_conflict',
  'chain_locked',
  'crypto_unavailable',
  'internal',
  'invalid_argument',
  'invalid_backup',
  'key_certificate_mismatch',
  'key_exists',
  'no_certificate',
  'no_key',
  'not_initialized',
  'storage_failed',
  'storage_unavailable',
  'vault_corrupted',
  'wasm_load_failed',
  'weak_passphrase',
  'wrong_passphrase',
]);
