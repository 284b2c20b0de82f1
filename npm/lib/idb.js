// Promise forms of IndexedDB requests and transactions, shared by the browser stores (key vault
// and chain in browser.js, outbox in outbox-idb.js).

import { ZatcaError } from './error.js';

/** Resolves with a request's result. */
export function promisify(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Resolves when a transaction has committed. */
export function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new ZatcaError('storage_failed', 'IndexedDB transaction aborted'));
    tx.onerror = () => reject(tx.error);
  });
}
