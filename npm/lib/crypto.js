// WebCrypto helpers of the key vault: AES-256-GCM sealing, PBKDF2-SHA256 passphrase keys and
// base64. Every AES key made here is non-extractable.

import { ZatcaError } from './error.js';

/** PBKDF2-SHA256 iterations of passphrase-derived keys (OWASP 2023 recommendation). */
export const DEFAULT_ITERATIONS = 600_000;
/** Lower bound accepted for `iterations` options. */
export const MIN_ITERATIONS = 100_000;
/** Shortest passphrase accepted. */
export const MIN_PASSPHRASE_LENGTH = 8;

export function subtle() {
  const s = globalThis.crypto?.subtle;
  if (!s) {
    throw new ZatcaError(
      'crypto_unavailable',
      'WebCrypto (crypto.subtle) is not available: use a secure context (https or localhost) or Node >= 18',
    );
  }
  return s;
}

export function randomBytes(n) {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

export function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function fromBase64(text, path) {
  try {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch {
    throw new ZatcaError('invalid_backup', `${path} is not base64`, { path });
  }
}

export function checkPassphrase(passphrase) {
  if (typeof passphrase !== 'string' || [...passphrase].length < MIN_PASSPHRASE_LENGTH) {
    throw new ZatcaError(
      'weak_passphrase',
      `the passphrase must be a string of at least ${MIN_PASSPHRASE_LENGTH} characters`,
      { path: 'passphrase' },
    );
  }
}

export function checkIterations(iterations) {
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS) {
    throw new ZatcaError('invalid_argument', `iterations must be an integer >= ${MIN_ITERATIONS}`, {
      path: 'iterations',
    });
  }
}

/** A new random AES-256-GCM key that cannot be exported. */
export function newWrappingKey() {
  return subtle().generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/** AES-256-GCM key derived from a passphrase with PBKDF2-SHA256; not exportable. */
export async function passphraseKey(passphrase, salt, iterations) {
  const s = subtle();
  const material = await s.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return s.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

const encoder = new TextEncoder();

/** Encrypts `plaintext` (WebCrypto copies it when called; the caller wipes its copy). */
export async function seal(key, plaintext, aad) {
  const iv = randomBytes(12);
  const ciphertext = new Uint8Array(
    await subtle().encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(aad) }, key, plaintext),
  );
  return { iv, ciphertext };
}

/** Decrypts a sealed value; a wrong key or tampering throws a ZatcaError with `code`. */
export async function unseal(key, sealed, aad, code, message) {
  try {
    return new Uint8Array(
      await subtle().decrypt(
        { name: 'AES-GCM', iv: sealed.iv, additionalData: encoder.encode(aad) },
        key,
        sealed.ciphertext,
      ),
    );
  } catch (e) {
    throw new ZatcaError(code, message, { cause: e });
  }
}

export function equalBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
