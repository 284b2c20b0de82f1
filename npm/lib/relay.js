// RelayClient: the relay's hosted API (relay/README.md) from browsers and Node, over `fetch`.
//
// Every answer that is not 2xx becomes a RelayError carrying the relay's envelope
// (`code`, `message`, `retryable`, `details`) and the HTTP status; a request that never got an
// answer (connection refused, offline, timeout) is `NETWORK_ERROR` / `TIMEOUT`, retryable.
// Creates send an `Idempotency-Key` (generated per document unless given) and reuse it on every
// retry, so a create retried after a lost answer is still one invoice.

import { INITIAL_PIH } from './constants.js';
import { ZatcaError, invalidArgument } from './error.js';

/** An error answered by the relay, or the failure to reach it. */
export class RelayError extends Error {
  /**
   * @param {string} code the relay's SCREAMING_SNAKE code, or NETWORK_ERROR / TIMEOUT
   * @param {string} message
   * @param {{ status?: number, retryable?: boolean, details?: object[], cause?: unknown }} [options]
   */
  constructor(code, message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RelayError';
    this.code = code;
    this.status = options.status ?? 0;
    this.retryable = Boolean(options.retryable);
    this.details = options.details ?? [];
  }

  static [Symbol.hasInstance](value) {
    return value instanceof Error && value.name === 'RelayError' && typeof value.code === 'string';
  }
}

/** Whether `value` is a RelayError. */
export function isRelayError(value) {
  return value instanceof RelayError;
}

const DEFAULTS = { timeoutMs: 30_000, retries: 2, retryDelayMs: 250 };

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function newKey() {
  return globalThis.crypto.randomUUID();
}

const encoder = new TextEncoder();

/** base64 of a string's UTF-8 bytes (or of bytes), in browsers and Node. */
export function toBase64Utf8(value) {
  const bytes = typeof value === 'string' ? encoder.encode(value) : value;
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

function seg(id, path) {
  if (typeof id !== 'string' || id === '') throw invalidArgument(path, 'expected a non-empty string');
  return encodeURIComponent(id);
}

export class RelayClient {
  #fetch;

  /**
   * @param {{ baseUrl?: string, apiKey?: string | null, fetch?: typeof fetch, timeoutMs?: number,
   *           retries?: number, retryDelayMs?: number }} [options]
   */
  constructor(options = {}) {
    const base = options.baseUrl ?? globalThis.location?.origin;
    if (typeof base !== 'string' || base === '') throw invalidArgument('baseUrl', 'expected the relay base URL');
    this.baseUrl = base.replace(/\/+$/, '');
    this.apiKey = options.apiKey ?? null;
    this.timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
    this.retries = options.retries ?? DEFAULTS.retries;
    this.retryDelayMs = options.retryDelayMs ?? DEFAULTS.retryDelayMs;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new ZatcaError('internal', 'no fetch implementation');
    this.#fetch = f;
  }

  /**
   * One HTTP exchange. `as`: 'json' (default), 'text' or 'bytes'. Retryable failures are retried
   * `retries` times (with the same headers, so the same Idempotency-Key).
   */
  async request(method, path, options = {}) {
    const headers = { accept: options.as === 'bytes' ? '*/*' : 'application/json' };
    if (options.auth !== false) {
      if (!this.apiKey) throw new RelayError('UNAUTHORIZED', 'no API key: call onboard() or set apiKey', { status: 401 });
      headers.authorization = `Bearer ${this.apiKey}`;
    }
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    let body;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const retries = options.retries ?? this.retries;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#once(method, path, headers, body, options.as ?? 'json');
      } catch (e) {
        if (!(e instanceof RelayError) || !e.retryable || attempt >= retries) throw e;
        await sleep(this.retryDelayMs * 2 ** attempt);
      }
    }
  }

  async #once(method, path, headers, body, as) {
    const controller = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = controller ? setTimeout(() => controller.abort(), this.timeoutMs) : null;
    let response;
    try {
      response = await this.#fetch(`${this.baseUrl}${path}`, { method, headers, body, signal: controller?.signal });
    } catch (e) {
      if (controller?.signal.aborted) {
        throw new RelayError('TIMEOUT', `no answer from the relay within ${this.timeoutMs} ms`, { retryable: true, cause: e });
      }
      throw new RelayError('NETWORK_ERROR', `cannot reach the relay: ${e?.message ?? e}`, { retryable: true, cause: e });
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (!response.ok) {
      let envelope = null;
      try {
        envelope = (await response.json())?.error ?? null;
      } catch {
        // a bare status (hyper's own 400/414, or a proxy in between)
      }
      const code = typeof envelope?.code === 'string' ? envelope.code : `HTTP_${response.status}`;
      const retryable = typeof envelope?.retryable === 'boolean' ? envelope.retryable : response.status >= 500;
      throw new RelayError(code, envelope?.message ?? `HTTP ${response.status}`, {
        status: response.status,
        retryable,
        details: Array.isArray(envelope?.details) ? envelope.details : [],
      });
    }
    if (as === 'text') return response.text();
    if (as === 'bytes') return new Uint8Array(await response.arrayBuffer());
    const text = await response.text();
    if (text === '') return null;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new RelayError('INVALID_RESPONSE', `the relay answered ${response.status} with a body that is not JSON`, {
        status: response.status,
        cause: e,
      });
    }
  }

  // Accounts and keys.

  /** `POST /v1/onboard`: a new account and its first key, which this client then uses. */
  async onboard(body = {}) {
    const out = await this.request('POST', '/v1/onboard', { body, auth: false, retries: 0 });
    this.apiKey = out.api_key.key;
    return out;
  }
  account() {
    return this.request('GET', '/v1/account');
  }
  listKeys() {
    return this.request('GET', '/v1/keys');
  }
  createKey(body = {}) {
    return this.request('POST', '/v1/keys', { body, retries: 0 });
  }
  updateKey(id, body) {
    return this.request('PATCH', `/v1/keys/${seg(id, 'id')}`, { body });
  }
  revokeKey(id) {
    return this.request('DELETE', `/v1/keys/${seg(id, 'id')}`);
  }

  // EGS units.

  createEgsUnit(body) {
    return this.request('POST', '/v1/egs', { body, retries: 0 });
  }
  listEgsUnits() {
    return this.request('GET', '/v1/egs');
  }
  egsStatus(id) {
    return this.request('GET', `/v1/egs/${seg(id, 'id')}/status`);
  }
  requestProduction(id, otp) {
    return this.request('POST', `/v1/egs/${seg(id, 'id')}/request-production`, { body: { otp }, retries: 0 });
  }
  renew(id, body) {
    return this.request('POST', `/v1/egs/${seg(id, 'id')}/renew`, { body, retries: 0 });
  }
  complianceDocuments(id) {
    return this.request('GET', `/v1/egs/${seg(id, 'id')}/compliance-documents`);
  }
  /** Device custody: one signed compliance document (`xml`: the signed XML text). */
  submitComplianceDocument(id, { kind, xml, hash, uuid }) {
    const body = { kind, invoice: toBase64Utf8(xml), invoice_hash: hash, uuid };
    return this.request('POST', `/v1/egs/${seg(id, 'id')}/compliance-documents`, { body });
  }
  auditLog(id, params = {}) {
    return this.request('GET', `/v1/egs/${seg(id, 'id')}/audit-log${query(params)}`);
  }
  retryOnboarding(id, body = {}) {
    return this.request('POST', `/v1/egs/${seg(id, 'id')}/retry-onboarding`, { body, retries: 0 });
  }

  /** Polls the unit's status until `onboarding_status` is one of `statuses` (or `failed`). */
  async waitForEgsStatus(id, statuses, options = {}) {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const started = Date.now();
    for (;;) {
      const status = await this.egsStatus(id);
      options.onStatus?.(status);
      if (statuses.includes(status.onboarding_status) || status.onboarding_status === 'failed') return status;
      if (Date.now() - started > timeoutMs) {
        throw new RelayError('TIMEOUT', `unit ${id} is still ${status.onboarding_status} after ${timeoutMs} ms`, { retryable: true });
      }
      await sleep(options.intervalMs ?? 250);
    }
  }

  /**
   * Device custody from start to finish: the key is generated in `vault` (unless it holds one),
   * the CSR made from it, the unit created, each required compliance document built by
   * `complianceInput(kind)` and signed here with the compliance certificate, and the issued
   * certificate stored in the vault. `onProgress` gets each step: `key`, `csr`, `unit`,
   * `compliance_csid`, `compliance_document` (with `kind`, `done`, `of`), then the final status.
   */
  async onboardDeviceUnit(vault, options) {
    const { unit_name, invoice_type = 'simplified', seller, csr, environment = 'sandbox', otp, complianceInput } = options;
    if (typeof complianceInput !== 'function') throw invalidArgument('complianceInput', 'expected a function (kind) => invoice input');
    const progress = options.onProgress ?? (() => {});
    if (!(await vault.hasKey())) await vault.generateKey();
    progress({ step: 'key' });
    const request = await vault.createCsr(csr, environment);
    progress({ step: 'csr' });
    const created = await this.createEgsUnit({
      unit_name, invoice_type, phase: 2, environment, otp, seller, custody: 'device', csr: request.pem,
    });
    const id = created.egs_unit_id;
    progress({ step: 'unit', egs_unit_id: id });
    const wait = (statuses) => this.waitForEgsStatus(id, statuses, options);
    let status = await wait(['awaiting_compliance_documents', 'active', 'ready_for_production']);
    if (status.onboarding_status === 'failed') throw onboardingFailed(status);
    progress({ step: 'compliance_csid', egs_unit_id: id });
    if (status.onboarding_status === 'awaiting_compliance_documents') {
      await vault.setCertificate(status.certificate);
      const pending = status.compliance_documents?.pending ?? [];
      // The compliance documents form a chain of their own from ICV 1.
      let pih = INITIAL_PIH;
      for (const [i, kind] of pending.entries()) {
        const signed = await vault.signInvoice(complianceInput(kind), { icv: i + 1, pih, uuid: newKey() });
        await this.submitComplianceDocument(id, { kind, xml: signed.xml, hash: signed.hash, uuid: signed.uuid });
        pih = signed.hash;
        progress({ step: 'compliance_document', kind, done: i + 1, of: pending.length, egs_unit_id: id });
      }
      status = await wait(['active', 'ready_for_production']);
      if (status.onboarding_status === 'failed') throw onboardingFailed(status);
    }
    if (status.certificate) await vault.setCertificate(status.certificate);
    progress({ step: status.onboarding_status, egs_unit_id: id });
    return status;
  }

  // Invoices.

  /** The four relay-signed creates; `options.idempotencyKey` defaults to a new UUID. */
  createSimplifiedInvoice(body, options = {}) {
    return this.#create('/v1/invoices/simplified', body, options);
  }
  createStandardInvoice(body, options = {}) {
    return this.#create('/v1/invoices/standard', body, options);
  }
  createCreditNote(body, options = {}) {
    return this.#create('/v1/invoices/credit-note', body, options);
  }
  createDebitNote(body, options = {}) {
    return this.#create('/v1/invoices/debit-note', body, options);
  }

  /**
   * Device custody: a document signed here (`signed`: what `signInvoice` returned, or
   * `{xml, hash, uuid}`), reported or cleared by the relay.
   */
  submitSigned(signed, options = {}) {
    const body = {
      invoice: toBase64Utf8(signed.xml),
      invoice_hash: signed.hash,
      uuid: signed.uuid,
      egs_unit_id: options.egsUnitId ?? signed.egs_unit_id,
    };
    return this.#create('/v1/invoices/signed', body, options);
  }

  #create(path, body, options) {
    const idempotencyKey = options.idempotencyKey ?? newKey();
    return this.request('POST', path, { body, idempotencyKey, retries: options.retries });
  }

  /** `GET /v1/invoices`: one page (`{data, pagination}`). */
  listInvoices(params = {}) {
    return this.request('GET', `/v1/invoices${query(params)}`);
  }

  /** Every invoice matching `params`, page after page (newest first). */
  async *invoices(params = {}) {
    let cursor;
    for (;;) {
      const page = await this.listInvoices({ ...params, cursor });
      yield* page.data;
      if (!page.pagination.has_more) return;
      cursor = page.pagination.next_cursor;
    }
  }

  getInvoice(id) {
    return this.request('GET', `/v1/invoices/${seg(id, 'id')}`);
  }
  /** The cleared (else signed) XML. */
  invoiceXml(id) {
    return this.request('GET', `/v1/invoices/${seg(id, 'id')}/xml`, { as: 'text' });
  }
  /** The bilingual PDF/A-3b. */
  invoicePdf(id) {
    return this.request('GET', `/v1/invoices/${seg(id, 'id')}/pdf`, { as: 'bytes' });
  }

  health() {
    return this.request('GET', '/health', { auth: false, retries: 0 });
  }
}

function onboardingFailed(status) {
  const details = Array.isArray(status.errors) ? status.errors : [];
  return new RelayError('ONBOARDING_FAILED', status.message ?? 'onboarding failed', { details });
}
