// Outbox: documents signed on the device wait here until the relay has them.
//
// Every document is stored before the first attempt to send it (IndexedDB in browsers,
// lib/outbox-idb.js; a file in Node, lib/node-store.js), with the Idempotency-Key it will
// always be sent with. `flush()` sends the queued documents of each unit in chain order (ICV),
// the same stored bytes every time, and stops a unit's queue at the first failure that may
// pass (relay unreachable, 5xx, busy) so that no document overtakes an earlier one. A document
// the relay refuses for good is marked `rejected` and the next one goes on. After a reload or a
// restart the queue is read back and sent: an answer lost to the crash is asked for again with
// the same key, and the relay answers the same invoice (its idempotency record, and its
// duplicate detection of identical signed bytes).
//
// Events: `sent`, `rejected`, `deadline-near` (a queued simplified document within
// `nearDeadlineMs` of ZATCA's 24-hour reporting limit), `change` (anything stored changed).

import { ZatcaError, invalidArgument } from './error.js';
import { RelayError } from './relay.js';

/** ZATCA's limit for reporting a simplified document: 24 hours after it was issued. */
export const REPORTING_WINDOW_MS = 24 * 3600 * 1000;
/** Warn this long before the deadline (the relay's `near_deadline` uses the same two hours). */
export const NEAR_DEADLINE_MS = 2 * 3600 * 1000;

const HASH_RE = /^[A-Za-z0-9+/]{43}=$/;

/** The signing time (Riyadh, no offset in the XML) as an instant. */
function issuedAt(signingTime) {
  const t = Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(signingTime) ? signingTime : `${signingTime}+03:00`);
  return Number.isFinite(t) ? t : Date.now();
}

export class Outbox {
  #store;
  #client;
  #listeners = new Map();
  #flushing = null;
  #again = false;
  #timer = null;
  #onOnline = null;

  /** Use `Outbox.open()` from the package entry point; this constructor is internal. */
  constructor(store, client, options = {}) {
    this.#store = store;
    this.#client = client;
    this.nearDeadlineMs = options.nearDeadlineMs ?? NEAR_DEADLINE_MS;
  }

  /** The RelayClient documents are sent with (may be replaced, e.g. after sign-up). */
  get client() {
    return this.#client;
  }
  set client(client) {
    this.#client = client;
  }

  /** Subscribes to `sent`, `rejected`, `deadline-near` or `change`; returns the unsubscribe. */
  on(event, listener) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    this.#listeners.get(event).add(listener);
    return () => this.#listeners.get(event)?.delete(listener);
  }

  #emit(event, payload) {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        listener(payload);
      } catch {
        // A listener's failure must not stop the queue.
      }
    }
  }

  /**
   * Stores a signed document (what `signInvoice` returned: `xml`, `hash`, `uuid`, `icv`,
   * `signing_time`) for `egsUnitId`. Resolves once it is stored; nothing is sent here.
   * `meta` is kept alongside for the app (invoice number, totals, …).
   */
  async add(egsUnitId, signed, meta = {}) {
    if (typeof egsUnitId !== 'string' || egsUnitId === '') throw invalidArgument('egsUnitId', 'expected a non-empty string');
    if (typeof signed?.xml !== 'string' || !HASH_RE.test(signed?.hash ?? '') || typeof signed?.uuid !== 'string') {
      throw invalidArgument('signed', 'expected a signed document { xml, hash, uuid, icv, signing_time }');
    }
    if (!Number.isSafeInteger(signed.icv) || signed.icv < 1) throw invalidArgument('signed.icv', 'expected the ICV the document was signed with');
    const issued = issuedAt(signed.signing_time ?? '');
    // Simplified documents (type code name 02…) are reported within 24 hours; standard ones
    // are cleared before they are valid, with no reporting deadline.
    const simplified = /<cbc:InvoiceTypeCode\b[^>]*\bname="02/.test(signed.xml);
    const entry = {
      id: globalThis.crypto.randomUUID(),
      egs_unit_id: egsUnitId,
      icv: signed.icv,
      uuid: signed.uuid,
      hash: signed.hash,
      xml: signed.xml,
      qr: signed.qr ?? null,
      meta,
      state: 'queued',
      issued_at: new Date(issued).toISOString(),
      deadline: simplified ? new Date(issued + REPORTING_WINDOW_MS).toISOString() : null,
      created_at: new Date().toISOString(),
      attempts: 0,
      last_error: null,
      deadline_warned: false,
      result: null,
      sent_at: null,
    };
    // The idempotency key is the entry id: stored with the bytes, reused on every attempt.
    await this.#store.put(entry);
    this.#emit('change', { entry });
    return entry;
  }

  /**
   * Signs the next document of `allocator`'s unit with `sign(slot)` and stores it here before
   * the chain records it, so that no crash leaves a recorded document outside the outbox. A
   * document stored by an attempt cut short before the chain recorded it is adopted into the
   * chain first (it was signed at the slot the chain would hand out again). `meta` is an object,
   * or a function of the slot. Resolves `{ signed, entry }`.
   */
  async issue(allocator, sign, meta = {}) {
    if (typeof sign !== 'function') throw invalidArgument('sign', 'expected a function');
    const unit = allocator?.egsUnitId;
    if (typeof unit !== 'string' || unit === '') throw invalidArgument('allocator', 'expected a ChainAllocator');
    const head = await allocator.state();
    const orphan = (await this.#store.all()).find((e) => e.egs_unit_id === unit && e.icv === head.icv + 1);
    if (orphan) await allocator.adopt(orphan);
    let entry = null;
    const signed = await allocator.next(async (slot) => {
      const doc = await sign(slot);
      if (doc?.icv !== slot.icv) {
        throw invalidArgument('sign', `the signed document must carry the allocated ICV ${slot.icv}`);
      }
      entry = await this.add(unit, doc, typeof meta === 'function' ? meta(slot) : meta);
      return doc;
    });
    return { signed, entry };
  }

  /** Every stored entry, oldest chain position first. */
  async entries() {
    return sortByChain(await this.#store.all());
  }

  /** The entries still waiting, with `ms_left` before their reporting deadline (null: none). */
  async pending(now = Date.now()) {
    return (await this.entries())
      .filter((e) => e.state === 'queued')
      .map((e) => ({ ...e, ms_left: e.deadline === null ? null : Date.parse(e.deadline) - now }));
  }

  /** Removes delivered and rejected entries older than `olderThanMs` (default: none). */
  async prune(olderThanMs = 0) {
    const cutoff = Date.now() - olderThanMs;
    for (const e of await this.#store.all()) {
      if (e.state !== 'queued' && Date.parse(e.sent_at ?? e.created_at) <= cutoff) await this.#store.remove(e.id);
    }
    this.#emit('change', {});
  }

  /**
   * Sends what is queued, unit by unit in chain order. One flush at a time (per outbox, and
   * across tabs or processes through the store's lock); a call during a flush makes it go one
   * more round. Resolves with `{sent, rejected, waiting}` (waiting: after the last round).
   */
  flush() {
    if (this.#flushing) {
      // A document added while a flush runs may not be in the list it read: one more round.
      this.#again = true;
      return this.#flushing;
    }
    this.#flushing = (async () => {
      const total = { sent: 0, rejected: 0, waiting: 0 };
      do {
        this.#again = false;
        const round = await this.#store.exclusive(() => this.#flushLocked());
        total.sent += round.sent;
        total.rejected += round.rejected;
        total.waiting = round.waiting;
      } while (this.#again);
      return total;
    })().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async #flushLocked() {
    const out = { sent: 0, rejected: 0, waiting: 0 };
    const queued = sortByChain((await this.#store.all()).filter((e) => e.state === 'queued'));
    const blocked = new Set();
    for (const entry of queued) {
      this.#checkDeadline(entry);
      if (blocked.has(entry.egs_unit_id) || !this.#client) {
        out.waiting++;
        continue;
      }
      entry.attempts++;
      try {
        const result = await this.#client.submitSigned(
          { xml: entry.xml, hash: entry.hash, uuid: entry.uuid },
          { egsUnitId: entry.egs_unit_id, idempotencyKey: entry.id, retries: 0 },
        );
        Object.assign(entry, { state: 'sent', result, last_error: null, sent_at: new Date().toISOString() });
        await this.#store.put(entry);
        out.sent++;
        this.#emit('sent', { entry, result });
      } catch (e) {
        const error = errorRecord(e);
        entry.last_error = error;
        if (error.retryable) {
          // Later documents of this unit wait behind this one.
          blocked.add(entry.egs_unit_id);
          await this.#store.put(entry);
          out.waiting++;
        } else {
          Object.assign(entry, { state: 'rejected', sent_at: new Date().toISOString() });
          await this.#store.put(entry);
          out.rejected++;
          this.#emit('rejected', { entry, error });
        }
      }
      this.#emit('change', { entry });
    }
    return out;
  }

  #checkDeadline(entry) {
    if (entry.deadline_warned || entry.deadline === null) return;
    const left = Date.parse(entry.deadline) - Date.now();
    if (left <= this.nearDeadlineMs) {
      entry.deadline_warned = true;
      this.#store.put(entry).catch(() => {});
      this.#emit('deadline-near', { entry, ms_left: left });
    }
  }

  /** Checks every queued entry's deadline now (also done by each flush). */
  async checkDeadlines() {
    for (const e of await this.#store.all()) if (e.state === 'queued') this.#checkDeadline(e);
  }

  /**
   * Flushes now, every `intervalMs`, and (browsers) when the page comes back online. Failures of
   * a flush stay in the entries' `last_error`; the loop goes on.
   */
  start(options = {}) {
    this.stop();
    const run = () => this.flush().catch(() => {});
    this.#timer = setInterval(run, options.intervalMs ?? 5000);
    if (typeof this.#timer === 'object' && typeof this.#timer?.unref === 'function') this.#timer.unref();
    if (typeof globalThis.addEventListener === 'function') {
      this.#onOnline = run;
      globalThis.addEventListener('online', run);
    }
    run();
  }

  stop() {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#onOnline) globalThis.removeEventListener('online', this.#onOnline);
    this.#onOnline = null;
  }

  /** Stops and closes the underlying storage. */
  close() {
    this.stop();
    this.#store.close?.();
  }
}

function sortByChain(list) {
  return list.sort((a, b) => (a.egs_unit_id < b.egs_unit_id ? -1 : a.egs_unit_id > b.egs_unit_id ? 1 : a.icv - b.icv));
}

function errorRecord(e) {
  if (e instanceof RelayError) {
    return { code: e.code, message: e.message, retryable: e.retryable, status: e.status, details: e.details };
  }
  if (e instanceof ZatcaError) return { code: e.code, message: e.message, retryable: false, status: 0, details: [] };
  return { code: 'INTERNAL', message: String(e?.message ?? e), retryable: true, status: 0, details: [] };
}
