// Browser storage of the key vault and the chain allocator: one IndexedDB database (default
// name "zatca") with three object stores, and the Web Locks API for cross-tab exclusion.
//
//   vault            { egs_unit_id, wrapping_key: CryptoKey (AES-GCM, extractable: false),
//                      sealed_key: { iv, ciphertext }, public_key, certificate, ... }
//   chain_state      { egs_unit_id, icv, pih, updated_at }
//   chain_documents  { egs_unit_id, icv, uuid, pih, hash, recorded_at }   key [egs_unit_id, icv]

import { initialState } from './chain.js';
import { newWrappingKey } from './crypto.js';
import { ZatcaError } from './error.js';
import { done, promisify } from './idb.js';

const DB_VERSION = 1;
const databases = new Map();

/** Opens (once per name) the package's IndexedDB database. */
export function openDatabase(name) {
  if (typeof indexedDB === 'undefined') {
    return Promise.reject(new ZatcaError('storage_unavailable', 'IndexedDB is not available in this environment'));
  }
  let db = databases.get(name);
  if (!db) {
    db = new Promise((resolve, reject) => {
      const request = indexedDB.open(name, DB_VERSION);
      request.onupgradeneeded = () => {
        const d = request.result;
        if (!d.objectStoreNames.contains('vault')) d.createObjectStore('vault', { keyPath: 'egs_unit_id' });
        if (!d.objectStoreNames.contains('chain_state')) d.createObjectStore('chain_state', { keyPath: 'egs_unit_id' });
        if (!d.objectStoreNames.contains('chain_documents')) {
          d.createObjectStore('chain_documents', { keyPath: ['egs_unit_id', 'icv'] });
        }
      };
      request.onsuccess = () => {
        const d = request.result;
        // Another tab upgrading the schema must not be blocked by this connection.
        d.onversionchange = () => {
          d.close();
          databases.delete(name);
        };
        resolve(d);
      };
      request.onerror = () => reject(new ZatcaError('storage_unavailable', `cannot open IndexedDB "${name}": ${request.error}`));
      request.onblocked = () => reject(new ZatcaError('storage_unavailable', `IndexedDB "${name}" is blocked by another tab`));
    });
    databases.set(name, db);
    db.catch(() => databases.delete(name));
  }
  return db;
}

/** Vault storage in IndexedDB. The wrapping key is a random non-extractable AES-GCM key. */
export class IdbKeyStore {
  constructor(db, egsUnitId) {
    this.db = db;
    this.egsUnitId = egsUnitId;
    this.unsealErrorCode = 'vault_corrupted';
    this.unsealErrorMessage = 'cannot decrypt the stored key: the vault record was altered or its wrapping key replaced';
  }

  async load() {
    const tx = this.db.transaction('vault', 'readonly');
    const record = await promisify(tx.objectStore('vault').get(this.egsUnitId));
    return record ?? null;
  }

  async save(record) {
    const tx = this.db.transaction('vault', 'readwrite');
    tx.objectStore('vault').put({ ...record, egs_unit_id: this.egsUnitId, updated_at: new Date().toISOString() });
    await done(tx);
  }

  async remove() {
    const tx = this.db.transaction('vault', 'readwrite');
    tx.objectStore('vault').delete(this.egsUnitId);
    await done(tx);
  }

  /** A fresh wrapping key for every newly stored key. */
  async sealingKey() {
    const key = await newWrappingKey();
    return { key, extra: { wrapping_key: key } };
  }

  async unsealingKey(record) {
    if (!(record.wrapping_key instanceof CryptoKey)) {
      throw new ZatcaError('vault_corrupted', 'the vault record has no wrapping key');
    }
    return record.wrapping_key;
  }
}

/** Chain storage in IndexedDB, serialised across tabs with Web Locks. */
export class IdbChainStore {
  #local = Promise.resolve();

  constructor(db, dbName, egsUnitId, initial) {
    this.db = db;
    this.egsUnitId = egsUnitId;
    this.initial = initialState(initial);
    this.lockName = `zatca-chain/${dbName}/${egsUnitId}`;
  }

  /**
   * Runs `fn` holding the unit's exclusive lock. Without the Web Locks API (very old browsers)
   * only this tab is serialised; the compare-and-set in `commit` still stops a second tab from
   * recording a duplicate ICV (it gets `chain_conflict`).
   */
  exclusive(fn) {
    if (globalThis.navigator?.locks?.request) {
      return navigator.locks.request(this.lockName, { mode: 'exclusive' }, fn);
    }
    const run = this.#local.then(fn, fn);
    this.#local = run.catch(() => {});
    return run;
  }

  async readState() {
    const tx = this.db.transaction('chain_state', 'readonly');
    const s = await promisify(tx.objectStore('chain_state').get(this.egsUnitId));
    return s ? { icv: s.icv, pih: s.pih } : { ...this.initial };
  }

  async commit(head, record) {
    const tx = this.db.transaction(['chain_state', 'chain_documents'], 'readwrite');
    const states = tx.objectStore('chain_state');
    const current = await promisify(states.get(this.egsUnitId));
    const icv = current ? current.icv : this.initial.icv;
    const pih = current ? current.pih : this.initial.pih;
    if (icv !== head.icv || pih !== head.pih) {
      tx.abort();
      throw new ZatcaError('chain_conflict', `the chain of ${this.egsUnitId} moved to ICV ${icv} while ICV ${record.icv} was being signed`);
    }
    states.put({ egs_unit_id: this.egsUnitId, icv: record.icv, pih: record.hash, updated_at: record.recorded_at });
    tx.objectStore('chain_documents').put({ egs_unit_id: this.egsUnitId, ...record });
    await done(tx);
  }

  async history(from, limit) {
    const tx = this.db.transaction('chain_documents', 'readonly');
    const range = IDBKeyRange.bound([this.egsUnitId, from], [this.egsUnitId, Number.MAX_SAFE_INTEGER]);
    const out = [];
    await new Promise((resolve, reject) => {
      const req = tx.objectStore('chain_documents').openCursor(range);
      req.onsuccess = () => {
        const cursor = req.result;
        if (!cursor || out.length >= limit) return resolve();
        const { egs_unit_id: _, ...rest } = cursor.value;
        out.push(rest);
        cursor.continue();
      };
      req.onerror = () => reject(req.error);
    });
    return out;
  }
}
