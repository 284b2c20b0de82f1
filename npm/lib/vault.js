// KeyVault: custody of an EGS unit's secp256k1 key, the same interface in browsers (IndexedDB,
// lib/browser.js) and Node (an encrypted file, lib/node-store.js).
//
// The private key is stored only AES-256-GCM encrypted under a non-extractable WebCrypto key
// (browser: a random key kept in IndexedDB; Node: derived from a passphrase with PBKDF2).
// For each operation that needs it, the key is decrypted into a fresh Uint8Array that is
// handed straight to a WebAssembly export; the export copies it into zeroized memory and
// overwrites the array with zeros, and the vault wipes it again in `finally`. No method returns
// the plaintext key: only public material (public key, CSR, certificate) leaves the vault,
// plus a passphrase-encrypted backup on explicit request.

import * as api from './api.js';
import {
  DEFAULT_ITERATIONS,
  checkIterations,
  checkPassphrase,
  equalBytes,
  fromBase64,
  passphraseKey,
  randomBytes,
  seal,
  toBase64,
  unseal,
} from './crypto.js';
import { ZatcaError, invalidArgument } from './error.js';

const BACKUP_FORMAT = 'zatca-key-backup';
const BACKUP_AAD = 'zatca-key-backup:v1';

/** Additional authenticated data binding a sealed key to its EGS unit. */
export function vaultAad(egsUnitId) {
  return `zatca-key-vault:v1:${egsUnitId}`;
}

export function checkUnitId(egsUnitId) {
  if (typeof egsUnitId !== 'string' || egsUnitId.length === 0 || egsUnitId.length > 200) {
    throw invalidArgument('egsUnitId', 'expected a non-empty string of at most 200 characters');
  }
  return egsUnitId;
}

export class KeyVault {
  #store;
  #loaders;

  /**
   * Use `KeyVault.open()` from the package entry point; this constructor is internal.
   * @param {object} store storage backend
   * @param {{ init: () => Promise<void>, initTools: () => Promise<void> }} loaders
   */
  constructor(store, loaders) {
    this.#store = store;
    this.#loaders = loaders;
  }

  /** The EGS unit this vault holds the key of. */
  get egsUnitId() {
    return this.#store.egsUnitId;
  }

  /** Whether a key is stored. */
  async hasKey() {
    return (await this.#store.load()) !== null;
  }

  /** The public key (SubjectPublicKeyInfo DER), or `null` when there is no key. */
  async publicKey() {
    const record = await this.#store.load();
    return record ? record.public_key.slice() : null;
  }

  /** The stored certificate (PEM), or `null`. */
  async certificate() {
    return (await this.#store.load())?.certificate ?? null;
  }

  /** Generates a new key inside WebAssembly and stores it encrypted. Returns the public key. */
  async generateKey(options = {}) {
    await this.#loaders.initTools();
    await this.#refuseOverwrite(options);
    const secret = api.generatePrivateKeyBytes();
    return this.#storeSecret(secret);
  }

  /**
   * Imports an existing private key (PEM text, or SEC1/PKCS#8 DER), e.g. one made by the `zatca`
   * CLI or the ZATCA SDK. A string argument cannot be wiped from memory by JavaScript; prefer
   * bytes and wipe them yourself, or `importBackup`.
   */
  async importPrivateKey(key, options = {}) {
    await this.#loaders.initTools();
    await this.#refuseOverwrite(options);
    const secret = api.normalizePrivateKeyConsuming(api.keyCopy(key));
    return this.#storeSecret(secret);
  }

  /**
   * Decrypts the stored key once and wipes it: throws `wrong_passphrase` (Node) or
   * `vault_corrupted` (browser) when the vault cannot be unlocked, `no_key` when it is empty.
   */
  async check() {
    await this.#withKey(() => undefined);
    return true;
  }

  /** Deletes the key and certificate. */
  async deleteKey() {
    await this.#store.remove();
  }

  /** Builds the onboarding CSR for `environment` with the vault's key. */
  async createCsr(config, environment) {
    await this.#loaders.initTools();
    return this.#withKey((key) => api.buildCsrConsumingKey(config, key, environment));
  }

  /**
   * Stores the certificate (CSID) issued for the key. Refuses one issued for another key
   * (`key_certificate_mismatch`) unless `unchecked` (the developer-portal sandbox issues a fixed
   * certificate whatever the CSR). Returns its description.
   */
  async setCertificate(certificate, options = {}) {
    await this.#loaders.init();
    const record = await this.#requireRecord();
    const info = api.certificateInfo(certificate);
    if (!options.unchecked && !equalBytes(info.public_key, record.public_key)) {
      throw new ZatcaError('key_certificate_mismatch', 'the certificate was not issued for the key in this vault');
    }
    await this.#store.save({ ...record, certificate: info.pem, certificate_unchecked: Boolean(options.unchecked) });
    return info;
  }

  /** Builds and signs an invoice with the vault's key and certificate. */
  async signInvoice(input, chain, options) {
    await this.#loaders.init();
    const record = await this.#requireRecord();
    const certificate = this.#requireCertificate(record);
    const opts = this.#signOptions(record, options);
    return this.#withKey((key) => api.signInvoiceConsumingKey(input, chain, key, certificate, opts), record);
  }

  /** Signs an unsigned (or re-signs a signed) UBL document with the vault's key. */
  async signXml(xml, options) {
    await this.#loaders.init();
    const record = await this.#requireRecord();
    const certificate = this.#requireCertificate(record);
    const opts = this.#signOptions(record, options);
    return this.#withKey((key) => api.signXmlConsumingKey(xml, key, certificate, opts), record);
  }

  /**
   * Exports the key encrypted under `passphrase` (PBKDF2-SHA256, AES-256-GCM) for backup. The
   * result is plain JSON-serialisable data; keep it and the passphrase apart.
   */
  async exportBackup(passphrase, options = {}) {
    checkPassphrase(passphrase);
    const iterations = options.iterations ?? DEFAULT_ITERATIONS;
    checkIterations(iterations);
    const salt = randomBytes(16);
    const key = await passphraseKey(passphrase, salt, iterations);
    const record = await this.#requireRecord();
    const sealed = await this.#withKey((secret) => seal(key, secret, BACKUP_AAD), record);
    return {
      format: BACKUP_FORMAT,
      version: 1,
      kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations, salt: toBase64(salt) },
      cipher: { name: 'AES-GCM', iv: toBase64(sealed.iv) },
      ciphertext: toBase64(sealed.ciphertext),
      public_key: toBase64(record.public_key),
      certificate: record.certificate ?? null,
      certificate_unchecked: Boolean(record.certificate_unchecked),
    };
  }

  /** Restores a key (and its certificate) from `exportBackup` output. */
  async importBackup(backup, passphrase, options = {}) {
    if (backup === null || typeof backup !== 'object' || backup.format !== BACKUP_FORMAT || backup.version !== 1) {
      throw new ZatcaError('invalid_backup', `not a ${BACKUP_FORMAT} version 1 object`);
    }
    const { kdf, cipher } = backup;
    if (kdf?.name !== 'PBKDF2' || kdf?.hash !== 'SHA-256' || cipher?.name !== 'AES-GCM' || !Number.isInteger(kdf?.iterations)) {
      throw new ZatcaError('invalid_backup', 'unsupported key derivation or cipher');
    }
    if (typeof passphrase !== 'string') throw invalidArgument('passphrase', 'expected a string');
    await this.#loaders.initTools();
    await this.#refuseOverwrite(options);
    const key = await passphraseKey(passphrase, fromBase64(kdf.salt, 'kdf.salt'), kdf.iterations);
    const secret = await unseal(
      key,
      { iv: fromBase64(cipher.iv, 'cipher.iv'), ciphertext: fromBase64(backup.ciphertext, 'ciphertext') },
      BACKUP_AAD,
      'wrong_passphrase',
      'cannot decrypt the backup: wrong passphrase, or the backup was altered',
    );
    const normalized = api.normalizePrivateKeyConsuming(secret);
    const publicKey = await this.#storeSecret(normalized);
    if (backup.public_key && !equalBytes(publicKey, fromBase64(backup.public_key, 'public_key'))) {
      await this.#store.remove();
      throw new ZatcaError('invalid_backup', 'the backup public key does not match its private key');
    }
    if (typeof backup.certificate === 'string') {
      await this.setCertificate(backup.certificate, { unchecked: backup.certificate_unchecked === true });
    }
    return publicKey;
  }

  /** Closes the underlying storage. */
  close() {
    this.#store.close?.();
  }

  async #refuseOverwrite(options) {
    if (!options.overwrite && (await this.#store.load()) !== null) {
      throw new ZatcaError(
        'key_exists',
        `the vault already holds a key for ${this.egsUnitId}; pass { overwrite: true } to replace it`,
      );
    }
  }

  async #requireRecord() {
    const record = await this.#store.load();
    if (!record) throw new ZatcaError('no_key', `the vault holds no key for ${this.egsUnitId}`);
    return record;
  }

  #requireCertificate(record) {
    if (!record.certificate) {
      throw new ZatcaError('no_certificate', 'store the certificate (CSID) with setCertificate() before signing');
    }
    return record.certificate;
  }

  #signOptions(record, options) {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw invalidArgument('options', 'expected an object');
    }
    const opts = { ...options };
    if (record.certificate_unchecked && opts.unchecked_certificate === undefined) opts.unchecked_certificate = true;
    return opts;
  }

  /** Seals `secret` (wiped afterwards) and stores it with its public key; returns the public key. */
  async #storeSecret(secret) {
    let publicKey;
    try {
      const { key, extra } = await this.#store.sealingKey();
      const sealed = await seal(key, secret, vaultAad(this.egsUnitId));
      publicKey = api.publicKeyOfConsuming(secret);
      await this.#store.save({
        ...extra,
        sealed_key: sealed,
        public_key: publicKey,
        certificate: null,
        certificate_unchecked: false,
        created_at: new Date().toISOString(),
      });
    } finally {
      secret.fill(0);
    }
    return publicKey.slice();
  }

  /** Decrypts the key into a fresh array, runs `use(key)`, and wipes the array. */
  async #withKey(use, record) {
    record ??= await this.#requireRecord();
    const wrapping = await this.#store.unsealingKey(record);
    const secret = await unseal(
      wrapping,
      record.sealed_key,
      vaultAad(this.egsUnitId),
      this.#store.unsealErrorCode,
      this.#store.unsealErrorMessage,
    );
    try {
      return await use(secret);
    } finally {
      secret.fill(0);
    }
  }
}
