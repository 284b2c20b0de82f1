// ChainAllocator: hands out each document's ICV and PIH for one EGS unit and records the hash
// of every signed document, atomically. The whole step "read the chain head → sign → record
// the new head" runs under an exclusive lock (browser: Web Locks across tabs, plus a
// compare-and-set in the IndexedDB transaction; Node: an in-process queue plus a lock file
// across processes), so two signers can never get the same ICV or chain to the same PIH.
// Storage backends: lib/browser.js (IndexedDB), lib/node-store.js (files).

import { INITIAL_PIH } from './constants.js';
import { ZatcaError, invalidArgument } from './error.js';

const HASH_RE = /^[A-Za-z0-9+/]{43}=$/;

/** Validates `initial` (a unit that already issued documents elsewhere). */
export function initialState(initial) {
  if (initial === undefined || initial === null) return { icv: 0, pih: INITIAL_PIH };
  const { icv, pih } = initial;
  if (!Number.isSafeInteger(icv) || icv < 0) throw invalidArgument('initial.icv', 'expected an integer >= 0');
  if (typeof pih !== 'string' || (pih !== INITIAL_PIH && !HASH_RE.test(pih))) {
    throw invalidArgument('initial.pih', 'expected the base64 invoice hash of the last document');
  }
  return { icv, pih };
}

function randomUuid() {
  return globalThis.crypto.randomUUID();
}

export class ChainAllocator {
  #store;

  /** Use `ChainAllocator.open()` from the package entry point; this constructor is internal. */
  constructor(store) {
    this.#store = store;
  }

  /** The EGS unit of this chain. */
  get egsUnitId() {
    return this.#store.egsUnitId;
  }

  /** The chain head: `icv` of the last recorded document (0 when none) and the next `pih`. */
  async state() {
    const s = await this.#store.readState();
    return { icv: s.icv, pih: s.pih, next_icv: s.icv + 1 };
  }

  /**
   * Allocates the next slot `{icv, pih, uuid}`, calls `sign(slot)` while holding the unit's lock,
   * records the returned document's `hash` as the next PIH and returns the result. When `sign`
   * throws, nothing is recorded and the ICV is handed out again next time.
   */
  async next(sign, options = {}) {
    if (typeof sign !== 'function') throw invalidArgument('sign', 'expected a function');
    if (options.uuid !== undefined && (typeof options.uuid !== 'string' || options.uuid === '')) {
      throw invalidArgument('options.uuid', 'expected a non-empty string');
    }
    return this.#store.exclusive(async () => {
      const head = await this.#store.readState();
      const slot = { icv: head.icv + 1, pih: head.pih, uuid: options.uuid ?? randomUuid() };
      const result = await sign({ ...slot });
      const hash = result?.hash;
      if (typeof hash !== 'string' || !HASH_RE.test(hash)) {
        throw new ZatcaError('invalid_argument', 'the sign callback must return the signed document ({ hash, ... })', {
          path: 'hash',
        });
      }
      if (result.icv !== undefined && result.icv !== null && result.icv !== slot.icv) {
        throw new ZatcaError('chain_conflict', `the signed document carries ICV ${result.icv}, not the allocated ${slot.icv}`);
      }
      await this.#store.commit(head, {
        icv: slot.icv,
        uuid: typeof result.uuid === 'string' ? result.uuid : slot.uuid,
        pih: slot.pih,
        hash,
        recorded_at: new Date().toISOString(),
      });
      return result;
    });
  }

  /**
   * Records a document signed at the next slot whose recording was cut short (a crash between
   * storing it and recording it; see `Outbox.issue`): `{icv, uuid, hash}`. Returns false, and
   * records nothing, when the chain is no longer just before it.
   */
  async adopt(doc) {
    if (!Number.isSafeInteger(doc?.icv) || !HASH_RE.test(doc?.hash ?? '') || typeof doc?.uuid !== 'string') {
      throw invalidArgument('doc', 'expected { icv, uuid, hash } of a signed document');
    }
    return this.#store.exclusive(async () => {
      const head = await this.#store.readState();
      if (doc.icv !== head.icv + 1) return false;
      await this.#store.commit(head, {
        icv: doc.icv,
        uuid: doc.uuid,
        pih: head.pih,
        hash: doc.hash,
        recorded_at: new Date().toISOString(),
      });
      return true;
    });
  }

  /** Signs `input` with `vault` in the next slot of the chain (see `next`). */
  async signInvoice(vault, input, options = {}) {
    const { uuid, ...signOptions } = options;
    return this.next((slot) => vault.signInvoice(input, slot, signOptions), { uuid });
  }

  /** Recorded documents `{icv, uuid, pih, hash, recorded_at}` in ICV order, from `fromIcv`. */
  async history(options = {}) {
    const from = options.fromIcv ?? 1;
    const limit = options.limit ?? Infinity;
    return this.#store.history(from, limit);
  }

  /** Closes the underlying storage. */
  close() {
    this.#store.close?.();
  }
}
