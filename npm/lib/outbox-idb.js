// Outbox storage in browsers: an IndexedDB database of its own (default "zatca-outbox", so the
// key vault's database schema is untouched), one object store keyed by entry id, and a Web
// Lock so that only one tab sends at a time.

import { ZatcaError } from './error.js';
import { done, promisify } from './idb.js';

export function openOutboxDatabase(name) {
  if (typeof indexedDB === 'undefined') {
    return Promise.reject(new ZatcaError('storage_unavailable', 'IndexedDB is not available in this environment'));
  }
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      const d = request.result;
      if (!d.objectStoreNames.contains('outbox')) d.createObjectStore('outbox', { keyPath: 'id' });
    };
    request.onsuccess = () => {
      const d = request.result;
      d.onversionchange = () => d.close();
      resolve(d);
    };
    request.onerror = () => reject(new ZatcaError('storage_unavailable', `cannot open IndexedDB "${name}": ${request.error}`));
    request.onblocked = () => reject(new ZatcaError('storage_unavailable', `IndexedDB "${name}" is blocked by another tab`));
  });
}

export class IdbOutboxStore {
  #local = Promise.resolve();

  constructor(db, name) {
    this.db = db;
    this.lockName = `zatca-outbox/${name}`;
  }

  async all() {
    const tx = this.db.transaction('outbox', 'readonly');
    return promisify(tx.objectStore('outbox').getAll());
  }

  async put(entry) {
    const tx = this.db.transaction('outbox', 'readwrite');
    tx.objectStore('outbox').put(entry);
    await done(tx);
  }

  async remove(id) {
    const tx = this.db.transaction('outbox', 'readwrite');
    tx.objectStore('outbox').delete(id);
    await done(tx);
  }

  exclusive(fn) {
    if (globalThis.navigator?.locks?.request) {
      return navigator.locks.request(this.lockName, { mode: 'exclusive' }, fn);
    }
    const run = this.#local.then(fn, fn);
    this.#local = run.catch(() => {});
    return run;
  }

  close() {
    this.db.close();
  }
}
