// The browser point of sale: plain ES modules over the npm package, served with the relay.
// Invoices are built and signed here (WebAssembly, key in the browser's KeyVault), go into the
// Outbox (IndexedDB) first, and reach the relay from there: at once when online, later when
// the connection (or the demo's offline switch) comes back.

import init, {
  ChainAllocator,
  INITIAL_PIH,
  KeyVault,
  NEAR_DEADLINE_MS,
  Outbox,
  RelayClient,
  buildInvoice,
  initPdf,
  initTools,
  qrSvg,
  renderPdf,
} from '/npm/index.js';
import { PRODUCTS, STRINGS } from './i18n.js';

const SANDBOX_OTP = '123345';
// ZATCA's sandbox requires the developer portal's test taxpayer as the seller.
const SELLER_BASE = {
  vat_number: '399999999900003',
  crn: '1010010000',
  address: {
    street: 'Prince Sultan',
    building_number: '2322',
    district: 'Al-Murabba',
    city: 'Riyadh',
    postal_code: '23333',
    country: 'SA',
  },
};
const COMPLIANCE_BUYER = {
  name: 'Compliance Buyer Co',
  vat_number: '399999999800003',
  address: { street: 'Olaya', building_number: '1234', district: 'Olaya', city: 'Riyadh', postal_code: '12211', country: 'SA' },
};

// ---------------------------------------------------------------- state

const saved = JSON.parse(localStorage.getItem('zatca-demo') ?? '{}');
const state = {
  lang: saved.lang ?? 'en',
  offline: saved.offline ?? false,
  apiKey: saved.apiKey ?? null,
  egsUnitId: saved.egsUnitId ?? null,
  vaultId: saved.vaultId ?? null,
  seller: saved.seller ?? null,
  nextChain: saved.nextChain ?? null, // the unit's chain head when it was set up
  standard: saved.standard ?? [], // B2B invoices issued here: { uuid, number, total, lines }
  cart: [],
  receipt: null,
  relayList: [],
  listError: null,
  busy: false,
  form: {}, // what was typed into the forms, kept across re-renders
};

function persist() {
  const { lang, offline, apiKey, egsUnitId, vaultId, seller, standard, nextChain } = state;
  localStorage.setItem('zatca-demo', JSON.stringify({ lang, offline, apiKey, egsUnitId, vaultId, seller, standard, nextChain }));
}

const t = (key, ...args) => {
  const s = STRINGS[state.lang][key] ?? STRINGS.en[key] ?? key;
  return typeof s === 'function' ? s(...args) : s;
};

// The offline switch makes every request fail as a lost connection would.
const client = new RelayClient({
  baseUrl: location.origin,
  apiKey: state.apiKey,
  retries: 0,
  timeoutMs: 15_000,
  fetch: (...args) => (state.offline ? Promise.reject(new TypeError('offline (demo switch)')) : fetch(...args)),
});

let vault = null;
let chain = null;
let outbox = null;

// ---------------------------------------------------------------- helpers

const $ = (sel) => document.querySelector(sel);
const esc = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function riyadhNow() {
  const iso = new Date(Date.now() + 3 * 3600 * 1000).toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 19) };
}

/** An exact decimal string from the core, shown with at least two decimals (value unchanged). */
function fmt(amount) {
  const [int, frac = ''] = String(amount).split('.');
  return `${int}.${frac.padEnd(2, '0')}`;
}

function money(amount) {
  return `<span class="amt">${esc(fmt(amount))}</span> <span class="cur">${t('sar')}</span>`;
}

function timeLeft(deadline) {
  const ms = Date.parse(deadline) - Date.now();
  if (ms <= 0) return t('overdue');
  const h = Math.floor(ms / 3600000);
  const m = Math.floor((ms % 3600000) / 60000);
  return t('left', h, m);
}

function sellerInput() {
  return { ...SELLER_BASE, name: state.seller?.name ?? 'Demo Shop', name_ar: state.seller?.name_ar || undefined };
}

function cartLines() {
  return state.cart.map((l) => {
    const p = PRODUCTS.find((x) => x.id === l.id);
    return { description: p.en, description_ar: p.ar, quantity: l.qty, unit_price: Number(p.price) };
  });
}

function simplifiedInput(lines) {
  const now = riyadhNow();
  return {
    invoice_number: 'DRAFT',
    invoice_date: now.date,
    invoice_time: now.time,
    invoice_type: 'simplified',
    document_type: 'invoice',
    seller: sellerInput(),
    line_items: lines,
  };
}

function download(bytes, name, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---------------------------------------------------------------- package setup

async function openDevice() {
  await Promise.all([init(), initTools()]);
  vault = await KeyVault.open({ egsUnitId: state.vaultId });
  outbox = await Outbox.open({ client });
  outbox.on('change', () => render());
  outbox.on('sent', () => refreshList());
  outbox.on('rejected', () => refreshList());
  if (state.egsUnitId) {
    const status = state.offline ? null : await client.egsStatus(state.egsUnitId).catch(() => null);
    // A new allocator starts where the relay says the unit's chain is; afterwards the stored
    // head (IndexedDB) is the truth, also while offline.
    const next = status?.next_chain ?? state.nextChain;
    const initial = next ? { icv: next.icv - 1, pih: next.pih } : undefined;
    chain = await ChainAllocator.open({ egsUnitId: state.egsUnitId, initial });
    outbox.start({ intervalMs: 3000 });
    // Loaded now so that receipts can be printed later without a connection.
    initPdf().catch(() => {});
  }
}

// ---------------------------------------------------------------- setup (first visit)

const STEPS = ['account', 'key', 'csr', 'unit', 'compliance_csid', 'compliance_document', 'active'];
let setupProgress = { done: new Set(), current: null, detail: '', error: null };

function complianceInput(kind) {
  const [invoiceType, ...rest] = kind.split('_');
  const documentType = rest.join('_');
  const now = riyadhNow();
  const input = {
    invoice_number: `CMP-${kind}`,
    invoice_date: now.date,
    invoice_time: now.time,
    invoice_type: invoiceType,
    document_type: documentType,
    seller: sellerInput(),
    line_items: [{ description: 'Compliance check', description_ar: 'فحص الامتثال', quantity: 1, unit_price: 10 }],
  };
  if (invoiceType === 'standard') input.buyer = COMPLIANCE_BUYER;
  if (documentType !== 'invoice') {
    input.original_invoice_number = `CMP-${invoiceType}_invoice`;
    input.reason = 'Compliance check';
  }
  return input;
}

async function runSetup(form) {
  const data = new FormData(form);
  state.seller = { name: data.get('name') || 'Demo Shop', name_ar: data.get('name_ar') || '' };
  setupProgress = { done: new Set(), current: 'account', detail: '', error: null };
  render();
  try {
    if (!state.apiKey) {
      await client.onboard({ name: state.seller.name });
      state.apiKey = client.apiKey;
      persist();
    }
    setupProgress.done.add('account');
    state.vaultId ??= `pos-${crypto.randomUUID()}`;
    persist();
    await init();
    await initTools();
    vault = await KeyVault.open({ egsUnitId: state.vaultId });
    const serial = crypto.randomUUID().slice(0, 8);
    const status = await client.onboardDeviceUnit(vault, {
      unit_name: `${state.seller.name} POS`,
      invoice_type: 'both',
      environment: 'sandbox',
      otp: data.get('otp') || SANDBOX_OTP,
      seller: sellerInput(),
      csr: {
        common_name: `${state.seller.name} POS`,
        serial_number: `1-ZatcaDemo|2-1.0|3-${serial}`,
        organization_identifier: SELLER_BASE.vat_number,
        organization_unit: 'Riyadh Branch',
        organization_name: state.seller.name,
        country: 'SA',
        invoice_type: '1100',
        location_address: 'Riyadh',
        industry_business_category: 'Retail',
      },
      complianceInput,
      onProgress: (p) => {
        const step = p.step === 'ready_for_production' ? 'active' : p.step;
        if (step === 'compliance_document') {
          setupProgress.detail = `${p.done}/${p.of}`;
          if (p.done === p.of) setupProgress.done.add(step);
        } else {
          setupProgress.done.add(step);
        }
        if (p.egs_unit_id) state.egsUnitId = p.egs_unit_id;
        setupProgress.current = STEPS.find((s) => !setupProgress.done.has(s)) ?? null;
        persist();
        render();
      },
    });
    if (status.onboarding_status !== 'active') throw new Error(status.message ?? status.onboarding_status);
    state.nextChain = status.next_chain ?? null;
    setupProgress.done.add('compliance_document');
    setupProgress.done.add('active');
    persist();
    await openDevice();
    location.hash = '#/pos';
  } catch (e) {
    setupProgress.error = `${e.code ? `${e.code}: ` : ''}${e.message}`;
    // A unit that failed half-way is not reused: the next attempt registers a new one.
    state.egsUnitId = null;
    persist();
  }
  render();
}

// ---------------------------------------------------------------- issuing

/** Signs `input` at the next chain position (number = ICV) and queues it in the outbox. */
async function issue(input, prefix, meta) {
  // Stored in the outbox before the chain records it: a crash in between loses nothing (the
  // next issue adopts the stored document into the chain).
  const numberOf = (slot) => `${prefix}-${String(slot.icv).padStart(5, '0')}`;
  const { signed, entry } = await outbox.issue(
    chain,
    (slot) => vault.signInvoice({ ...input, invoice_number: numberOf(slot) }, slot),
    (slot) => ({ number: numberOf(slot), ...meta }),
  );
  const number = entry.meta.number;
  outbox.flush().catch(() => {});
  return { signed, entry, number };
}

async function issueSale() {
  if (state.busy || state.cart.length === 0) return;
  state.busy = true;
  render();
  try {
    const lines = cartLines();
    const built = buildInvoice(simplifiedInput(lines), { icv: 1, pih: INITIAL_PIH, uuid: crypto.randomUUID() });
    const { signed, entry, number } = await issue(simplifiedInput(lines), 'S', {
      type: 'simplified',
      total: built.totals.tax_inclusive,
    });
    state.receipt = { entryId: entry.id, number, xml: signed.xml, qr: signed.qr, totals: built.totals };
    state.cart = [];
  } catch (e) {
    alert(`${e.code ?? ''} ${e.message}`);
  } finally {
    state.busy = false;
    await render();
    $('[data-testid=receipt]')?.scrollIntoView({ block: 'nearest' });
  }
}

async function pdfOf(xml) {
  await initPdf();
  return renderPdf(xml);
}

// ---------------------------------------------------------------- invoice list

async function refreshList() {
  if (!state.apiKey || state.offline) return;
  try {
    const page = await client.listInvoices({ limit: 50 });
    state.relayList = page.data;
    state.listError = null;
  } catch (e) {
    state.listError = e.message;
  }
  render();
}

async function rejectionMessage(id) {
  try {
    const detail = await client.getInvoice(id);
    const rejected = detail.timeline.filter((x) => x.status === 'rejected').pop();
    return (rejected?.messages ?? []).map((m) => (typeof m === 'string' ? m : m.message ?? JSON.stringify(m))).join('; ');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------- rendering

let entriesCache = [];
let rendering = null;
let renderAgain = false;

/** Renders now, or once more after the render in flight (renders wait for IndexedDB). */
function render() {
  if (rendering) {
    renderAgain = true;
    return rendering;
  }
  rendering = (async () => {
    do {
      renderAgain = false;
      await renderNow();
    } while (renderAgain);
  })().finally(() => {
    rendering = null;
  });
  return rendering;
}

async function renderNow() {
  if (outbox) entriesCache = await outbox.entries();
  document.documentElement.lang = state.lang;
  document.documentElement.dir = state.lang === 'ar' ? 'rtl' : 'ltr';
  document.title = t('brand');
  const ready = state.apiKey && state.egsUnitId && chain;
  const route = ready ? (location.hash.replace(/^#\//, '') || 'pos') : 'setup';
  // Re-rendering replaces the DOM: keep the field being typed in focused.
  const focused = document.activeElement?.name ? document.activeElement : null;
  const focus = focused && { name: focused.name, form: focused.form?.id, at: focused.selectionStart };
  $('#app').innerHTML = `${header(ready, route)}<main>${
    route === 'setup' ? setupView() : route === 'invoices' ? invoicesView() : route === 'b2b' ? b2bView() : posView()
  }</main>`;
  bind(route);
  if (focus) {
    const el = document.querySelector(`${focus.form ? `#${focus.form} ` : ''}[name="${focus.name}"]`);
    el?.focus();
    if (el && focus.at !== null && focus.at !== undefined) el.setSelectionRange?.(focus.at, focus.at);
  }
}

function header(ready, route) {
  const tab = (r, label) => `<a href="#/${r}" class="tab${route === r ? ' active' : ''}" data-testid="nav-${r}">${t(label)}</a>`;
  const waiting = entriesCache.filter((e) => e.state === 'queued').length;
  // The demo's switch, or the browser itself without a network.
  const down = state.offline || navigator.onLine === false;
  return `<header>
    <div class="bar">
      <div class="brand"><span class="logo" aria-hidden="true"><svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M6 2h12v20l-3-2-3 2-3-2-3 2z"/><path d="M9 7h6M9 11h6M9 15h4"/></svg></span><div><strong class="brand-name">${esc(t('brand'))}</strong>${
        state.seller ? `<small>${esc(state.lang === 'ar' && state.seller.name_ar ? state.seller.name_ar : state.seller.name)}</small>` : ''
      }</div></div>
      <div class="controls">
        <button class="switch ${down ? 'off' : 'on'}" id="net" data-testid="net-switch" data-state="${
          state.offline ? 'switched-off' : down ? 'no-connection' : 'online'
        }" role="switch" aria-checked="${!state.offline}" title="${esc(
          t(state.offline ? 'offline_hint' : down ? 'no_connection_hint' : 'online_hint'),
        )}"><span class="dot"></span>${t(state.offline ? 'offline' : down ? 'no_connection' : 'online')}${
          waiting ? ` <span class="count" data-testid="outbox-count">${waiting}</span>` : ''
        }</button>
        <button class="lang" id="lang" data-testid="lang">${t('language')}</button>
      </div>
    </div>
    ${ready ? `<nav>${tab('pos', 'nav_pos')}${tab('invoices', 'nav_invoices')}${tab('b2b', 'nav_b2b')}</nav>` : ''}
  </header>`;
}

function setupView() {
  const p = setupProgress;
  const running = p.current !== null && !p.error && p.done.size > 0 && !p.done.has('active');
  const started = p.done.size > 0 || p.current !== null;
  return `<section class="card setup">
    <h1>${t('setup_title')}</h1>
    <p class="lead">${t('setup_lead')}</p>
    <form id="setup">
      <label>${t('shop_name')}<input name="name" dir="auto" required value="${esc(state.form.name ?? state.seller?.name ?? 'Al Noor Café')}" data-testid="shop-name"></label>
      <label>${t('shop_name_ar')}<input name="name_ar" dir="rtl" value="${esc(state.form.name_ar ?? state.seller?.name_ar ?? 'مقهى النور')}"></label>
      <label>${t('otp')}<input name="otp" inputmode="numeric" value="${esc(state.form.otp ?? SANDBOX_OTP)}"><small>${t('otp_hint')}</small></label>
      <button class="primary" ${running ? 'disabled' : ''} data-testid="setup-go">${t(p.error ? 'retry' : 'setup_go')}</button>
    </form>
    ${
      started
        ? `<ol class="steps" data-testid="setup-steps">${STEPS.map((s) => {
            const cls = p.done.has(s) ? 'done' : p.current === s && !p.error ? 'now' : p.current === s ? 'failed' : '';
            const extra = s === 'compliance_document' && p.detail ? ` (${p.detail})` : '';
            return `<li class="${cls}">${t(`step_${s}`)}${extra}</li>`;
          }).join('')}</ol>`
        : ''
    }
    ${p.error ? `<p class="error" data-testid="setup-error">${t('setup_failed')}: ${esc(p.error)}</p>` : ''}
  </section>`;
}

let cartTotals = null;

function posView() {
  const lines = cartLines();
  cartTotals = null;
  if (lines.length) {
    try {
      cartTotals = buildInvoice(simplifiedInput(lines), { icv: 1, pih: INITIAL_PIH, uuid: crypto.randomUUID() }).totals;
    } catch (e) {
      cartTotals = { error: e.message };
    }
  }
  const name = (p) => (state.lang === 'ar' ? p.ar : p.en);
  const products = PRODUCTS.map(
    (p) => `<button class="product" data-add="${p.id}" data-testid="product-${p.id}"><span class="pname" dir="${state.lang === 'ar' ? 'rtl' : 'ltr'}">${esc(name(p))}</span><span class="psub" dir="${
      state.lang === 'ar' ? 'ltr' : 'rtl'
    }">${esc(
      state.lang === 'ar' ? p.en : p.ar,
    )}</span><span class="price">${money(p.price)}</span></button>`,
  ).join('');
  const cart = state.cart.length
    ? `<ul class="lines">${state.cart
        .map((l, i) => {
          const p = PRODUCTS.find((x) => x.id === l.id);
          const lt = cartTotals?.lines?.[i];
          return `<li><span class="lname" dir="auto">${esc(name(p))}</span>
            <span class="qty"><button data-dec="${i}" aria-label="−">−</button><b>${l.qty}</b><button data-inc="${i}" aria-label="+">+</button></span>
            <span class="amount">${lt ? money(lt.net) : ''}</span></li>`;
        })
        .join('')}</ul>`
    : `<p class="muted">${t('cart_empty')}</p>`;
  const totals = cartTotals && !cartTotals.error
    ? `<dl class="totals" data-testid="totals">
        <dt>${t('subtotal')}</dt><dd data-testid="subtotal">${money(cartTotals.tax_exclusive)}</dd>
        <dt>${t('vat')}</dt><dd data-testid="vat">${money(cartTotals.vat_total)}</dd>
        <dt class="grand">${t('total')}</dt><dd class="grand" data-testid="total">${money(cartTotals.tax_inclusive)}</dd>
      </dl>`
    : cartTotals?.error
      ? `<p class="error">${esc(cartTotals.error)}</p>`
      : '';
  return `<div class="pos">
    <section class="card"><h2>${t('products')}</h2><div class="grid">${products}</div></section>
    <div class="side">
    <section class="card cart"><h2>${t('cart')}</h2>${cart}${totals}
      <div class="actions">
        <button class="primary big" id="issue" data-testid="issue" ${state.cart.length && !state.busy ? '' : 'disabled'}>${t(state.busy ? 'signing' : 'issue')}</button>
        ${state.cart.length ? `<button id="clear">${t('clear')}</button>` : ''}
      </div>
    </section>
    ${state.receipt ? receiptView() : ''}
    </div>
    ${
      cartTotals && !cartTotals.error
        ? `<div class="mobilebar"><span>${t('total')} <b>${money(cartTotals.tax_inclusive)}</b></span><button class="primary" data-issue ${
            state.busy ? 'disabled' : ''
          }>${t(state.busy ? 'signing' : 'issue')}</button></div>`
        : ''
    }
  </div>`;
}

function entryStatus(entry) {
  if (!entry) return 'queued';
  if (entry.state === 'queued') return 'queued';
  if (entry.state === 'rejected') return 'rejected';
  const live = state.relayList.find((x) => x.invoice_id === entry.result?.invoice_id);
  return live?.status ?? entry.result?.status ?? 'pending';
}

function badge(status) {
  return `<span class="badge s-${status}" data-status="${status}">${t(`s_${status}`)}</span>`;
}

function receiptView() {
  const r = state.receipt;
  const entry = entriesCache.find((e) => e.id === r.entryId);
  const rejected = entry?.state === 'rejected' && entry.last_error;
  let svg = '';
  try {
    svg = qrSvg(r.qr);
  } catch {
    svg = '';
  }
  return `<section class="card receipt" data-testid="receipt">
    <h2>${t('receipt')} <span data-testid="receipt-number">${esc(r.number)}</span> ${badge(entryStatus(entry))}</h2>
    <div class="receipt-body">
      <figure class="qr" data-testid="qr">${svg}<figcaption>${t('qr_caption')}</figcaption></figure>
      <dl class="totals">
        <dt>${t('subtotal')}</dt><dd>${money(r.totals.tax_exclusive)}</dd>
        <dt>${t('vat')}</dt><dd>${money(r.totals.vat_total)}</dd>
        <dt class="grand">${t('total')}</dt><dd class="grand">${money(r.totals.tax_inclusive)}</dd>
      </dl>
    </div>
    ${rejected ? `<p class="error" data-testid="receipt-error">${t('rejected_receipt')} ${esc(errorText(entry.last_error))}</p>` : ''}
    <div class="actions">
      ${
        rejected
          ? ''
          : `<button id="print" data-testid="print">${t('print_pdf')}</button>
      <button id="pdf" data-testid="download-pdf">${t('download_pdf')}</button>`
      }
      <button id="new-sale" class="primary">${t('new_sale')}</button>
    </div>
  </section>`;
}

function rowsForList() {
  const rows = [];
  // A document ZATCA rejected is also on the relay (it keeps its chain position): one row.
  const onRelay = new Set(state.relayList.map((x) => x.uuid));
  for (const e of entriesCache) {
    if (e.state === 'sent' || onRelay.has(e.uuid)) continue;
    rows.push({
      key: e.id,
      number: e.meta?.number ?? `ICV ${e.icv}`,
      type: e.meta?.type ?? 'simplified',
      total: e.meta?.total ?? '',
      status: e.state === 'queued' ? 'queued' : 'rejected',
      deadline: e.meta?.type === 'simplified' && e.state === 'queued' ? e.deadline : null,
      // A lost connection is what the outbox is for: not worth a message while queued.
      message: e.last_error && !['NETWORK_ERROR', 'TIMEOUT'].includes(e.last_error.code) ? errorText(e.last_error) : '',
      xml: e.xml,
    });
  }
  for (const inv of state.relayList) {
    const local = entriesCache.find((e) => e.result?.invoice_id === inv.invoice_id);
    const type = inv.document_type === 'invoice' ? inv.invoice_type : inv.document_type;
    const waiting = ['pending', 'submitted', 'retrying'].includes(inv.status);
    rows.push({
      key: inv.invoice_id,
      id: inv.invoice_id,
      number: inv.invoice_number,
      type,
      total: typeof inv.total === 'number' ? inv.total.toFixed(2) : inv.total,
      status: inv.status,
      deadline: waiting && inv.invoice_type === 'simplified' && local ? local.deadline : null,
      message: inv.status === 'rejected' ? (rejectionCache.get(inv.invoice_id) ?? '') : '',
    });
  }
  return rows;
}

const rejectionCache = new Map();

/** The relay's error with ZATCA's own messages (in `details`) when it has them. */
function errorText(error) {
  const zatca = (error.details ?? []).map((d) => d.message).filter(Boolean);
  return zatca.length ? zatca.join('; ') : `${error.code}: ${error.message}`;
}

function invoicesView() {
  const queued = entriesCache.filter((e) => e.state === 'queued');
  const first = queued.map((e) => e.deadline).filter(Boolean).sort()[0];
  const rows = rowsForList();
  for (const r of rows) {
    if (r.status === 'rejected' && r.id && !rejectionCache.has(r.id)) {
      rejectionCache.set(r.id, '');
      rejectionMessage(r.id).then((m) => {
        rejectionCache.set(r.id, m);
        render();
      });
    }
  }
  return `<section class="card">
    <h2>${t('invoices_title')}</h2>
    <p class="outbox ${queued.length ? 'warn' : 'ok'}" data-testid="outbox-summary">${
      queued.length ? (first ? t('outbox_waiting', queued.length, timeLeft(first)) : t('outbox_waiting_b2b', queued.length)) : t('outbox_none')
    }</p>
    ${
      rows.length
        ? `<table class="list" data-testid="invoice-list"><thead><tr><th>${t('col_number')}</th><th>${t('col_type')}</th><th class="num">${t(
            'col_total',
          )}</th><th>${t('col_status')}</th><th>${t('col_deadline')}</th><th></th></tr></thead><tbody>${rows
            .map(
              (r) => `<tr data-number="${esc(r.number)}">
                <td data-label="${t('col_number')}">${esc(r.number)}</td>
                <td data-label="${t('col_type')}">${t(`t_${r.type}`)}</td>
                <td data-label="${t('col_total')}" class="num">${r.total ? money(r.total) : ''}</td>
                <td data-label="${t('col_status')}">${badge(r.status)}${r.message ? `<div class="msg">${esc(r.message)}</div>` : ''}</td>
                <td data-label="${t('col_deadline')}" class="${r.deadline ? (Date.parse(r.deadline) - Date.now() < NEAR_DEADLINE_MS ? 'dl near' : 'dl') : 'dl none'}">${r.deadline ? esc(timeLeft(r.deadline)) : t('done')}</td>
                <td>${
                  r.status === 'rejected'
                    ? '' // not a valid invoice: nothing to print
                    : r.id
                    ? `<button data-pdf="${r.id}" data-name="${esc(r.number)}">${t('pdf')}</button>`
                    : r.xml && r.status === 'queued'
                      ? `<button data-localpdf="${r.key}" data-name="${esc(r.number)}">${t('pdf')}</button>`
                      : ''
                }</td>
              </tr>`,
            )
            .join('')}</tbody></table>`
        : `<p class="muted">${t('no_invoices')}</p>`
    }
    ${state.listError ? `<p class="error">${esc(state.listError)}</p>` : ''}
  </section>`;
}

/** The relay's PDF (of ZATCA's cleared XML for standard documents) once the relay has it. */
function pdfButton(entry, number) {
  const id = entry?.result?.invoice_id;
  return id && entryStatus(entry) !== 'rejected' ? `<button class="small" data-pdf="${esc(id)}" data-name="${esc(number)}">${t('pdf')}</button>` : '';
}

function b2bView() {
  const f = (name, label, value, extra = '') =>
    `<label>${t(label)}<input name="${name}" dir="auto" value="${esc(state.form[name] ?? value)}" ${extra}></label>`;
  const issued = state.standard
    .map((s) => {
      const entry = entriesCache.find((e) => e.id === s.entryId);
      const notes = state.standard.filter((n) => n.original === s.number);
      return s.original
        ? ''
        : `<li data-testid="b2b-${esc(s.number)}"><div><b>${esc(s.number)}</b> ${money(s.total)} ${badge(entryStatus(entry))} ${pdfButton(entry, s.number)}</div>
          ${notes
            .map((n) => {
              const ne = entriesCache.find((e) => e.id === n.entryId);
              return `<div class="note">${t('credit_note')} <b>${esc(n.number)}</b> ${money(n.total)} ${badge(entryStatus(ne))} ${pdfButton(ne, n.number)}</div>`;
            })
            .join('')}
          ${
            notes.reduce((sum, n) => sum + Number(n.total), 0) >= Number(s.total)
              ? ''
              : `<form class="credit" data-original="${esc(s.number)}">
            <input name="reason" dir="auto" value="${esc(t('reason_default'))}" aria-label="${t('reason')}">
            <button data-testid="credit-${esc(s.number)}">${t('issue_credit')}</button>
          </form>`
          }</li>`;
    })
    .join('');
  return `<div class="b2b">
    <section class="card">
      <h2>${t('b2b_title')}</h2>
      <p class="lead">${t('b2b_lead')}</p>
      <form id="b2b" class="form-grid">
        ${f('buyer_name', 'buyer_name', 'Riyadh Trading Est.', 'required')}
        ${f('buyer_vat', 'buyer_vat', '399999999800003', 'required inputmode="numeric"')}
        ${f('street', 'buyer_street', 'Olaya Street')}
        ${f('building', 'buyer_building', '1234')}
        ${f('district', 'buyer_district', 'Al Olaya')}
        ${f('city', 'buyer_city', 'Riyadh')}
        ${f('postal', 'buyer_postal', '12211')}
        ${f('item', 'item', state.lang === 'ar' ? 'تمر، علبة 500 غ' : 'Dates, 500 g box')}
        ${f('qty', 'quantity', '20', 'inputmode="decimal"')}
        ${f('price', 'unit_price', '30.00', 'inputmode="decimal"')}
        <button class="primary" data-testid="issue-b2b" ${state.busy ? 'disabled' : ''}>${t('issue_b2b')}</button>
      </form>
    </section>
    <section class="card"><h2>${t('b2b_issued')}</h2>${issued ? `<ul class="issued">${issued}</ul>` : `<p class="muted">${t('no_invoices')}</p>`}</section>
  </div>`;
}

// ---------------------------------------------------------------- events

function bind(route) {
  $('#net').onclick = () => {
    state.offline = !state.offline;
    persist();
    if (!state.offline && outbox) outbox.flush().catch(() => {});
    render();
  };
  $('#lang').onclick = () => {
    state.lang = state.lang === 'en' ? 'ar' : 'en';
    persist();
    render();
  };
  document.querySelectorAll('#setup input, #b2b input').forEach((input) => {
    input.oninput = () => {
      state.form[input.name] = input.value;
    };
  });
  if (route === 'setup') {
    $('#setup').onsubmit = (ev) => {
      ev.preventDefault();
      runSetup(ev.target);
    };
    return;
  }
  document.querySelectorAll('[data-add]').forEach((b) => {
    b.onclick = () => {
      const line = state.cart.find((l) => l.id === b.dataset.add);
      if (line) line.qty++;
      else state.cart.push({ id: b.dataset.add, qty: 1 });
      render();
    };
  });
  document.querySelectorAll('[data-inc]').forEach((b) => {
    b.onclick = () => {
      state.cart[b.dataset.inc].qty++;
      render();
    };
  });
  document.querySelectorAll('[data-dec]').forEach((b) => {
    b.onclick = () => {
      const l = state.cart[b.dataset.dec];
      if (--l.qty <= 0) state.cart.splice(Number(b.dataset.dec), 1);
      render();
    };
  });
  if ($('#issue')) $('#issue').onclick = issueSale;
  document.querySelectorAll('[data-issue]').forEach((b) => (b.onclick = issueSale));
  if ($('#clear')) $('#clear').onclick = () => ((state.cart = []), render());
  if ($('#new-sale')) $('#new-sale').onclick = () => ((state.receipt = null), render());
  if ($('#pdf')) $('#pdf').onclick = async () => download(await pdfOf(state.receipt.xml), `${state.receipt.number}.pdf`, 'application/pdf');
  if ($('#print')) {
    $('#print').onclick = async () => {
      const url = URL.createObjectURL(new Blob([await pdfOf(state.receipt.xml)], { type: 'application/pdf' }));
      window.open(url, '_blank');
    };
  }
  document.querySelectorAll('[data-pdf]').forEach((b) => {
    b.onclick = async () => download(await client.invoicePdf(b.dataset.pdf), `${b.dataset.name}.pdf`, 'application/pdf');
  });
  // Invoices still in the outbox: the PDF is rendered here from the signed XML.
  document.querySelectorAll('[data-localpdf]').forEach((b) => {
    b.onclick = async () => {
      const entry = entriesCache.find((e) => e.id === b.dataset.localpdf);
      if (entry) download(await pdfOf(entry.xml), `${b.dataset.name}.pdf`, 'application/pdf');
    };
  });
  if ($('#b2b')) $('#b2b').onsubmit = (ev) => (ev.preventDefault(), issueStandard(new FormData(ev.target)));
  document.querySelectorAll('form.credit').forEach((form) => {
    form.onsubmit = (ev) => {
      ev.preventDefault();
      issueCreditNote(form.dataset.original, new FormData(form).get('reason'));
    };
  });
}

function buyerOf(data) {
  return {
    name: data.get('buyer_name'),
    vat_number: data.get('buyer_vat'),
    address: {
      street: data.get('street'),
      building_number: data.get('building'),
      district: data.get('district'),
      city: data.get('city'),
      postal_code: data.get('postal'),
      country: 'SA',
    },
  };
}

async function issueStandard(data) {
  if (state.busy) return;
  state.busy = true;
  render();
  try {
    const now = riyadhNow();
    const lines = [{ description: data.get('item'), quantity: Number(data.get('qty')), unit_price: Number(data.get('price')) }];
    const input = {
      invoice_number: 'DRAFT',
      invoice_date: now.date,
      invoice_time: now.time,
      invoice_type: 'standard',
      document_type: 'invoice',
      seller: sellerInput(),
      buyer: buyerOf(data),
      line_items: lines,
    };
    const totals = buildInvoice(input, { icv: 1, pih: INITIAL_PIH, uuid: crypto.randomUUID() }).totals;
    const { entry, number } = await issue(input, 'B', { type: 'standard', total: totals.tax_inclusive });
    state.standard.push({ entryId: entry.id, number, total: totals.tax_inclusive, input });
    persist();
  } catch (e) {
    alert(`${e.code ?? ''} ${e.message}`);
  } finally {
    state.busy = false;
    render();
  }
}

async function issueCreditNote(originalNumber, reason) {
  const original = state.standard.find((s) => s.number === originalNumber);
  if (!original || state.busy) return;
  state.busy = true;
  render();
  try {
    const now = riyadhNow();
    const input = {
      ...original.input,
      invoice_number: 'DRAFT',
      invoice_date: now.date,
      invoice_time: now.time,
      document_type: 'credit_note',
      original_invoice_number: originalNumber,
      reason: reason || t('reason_default'),
    };
    const totals = buildInvoice(input, { icv: 1, pih: INITIAL_PIH, uuid: crypto.randomUUID() }).totals;
    const { entry, number } = await issue(input, 'C', { type: 'credit_note', total: totals.tax_inclusive });
    state.standard.push({ entryId: entry.id, number, total: totals.tax_inclusive, original: originalNumber });
    persist();
  } catch (e) {
    alert(`${e.code ?? ''} ${e.message}`);
  } finally {
    state.busy = false;
    render();
  }
}

// A real loss of connection shows on the switch; the outbox sends again on 'online' itself.
window.addEventListener('offline', () => render());
window.addEventListener('online', () => render());

window.addEventListener('hashchange', () => {
  render();
  if (location.hash === '#/invoices') refreshList();
});

// Live: the list and the deadlines refresh every few seconds.
setInterval(() => {
  if (location.hash === '#/invoices' || location.hash === '#/b2b' || state.receipt) refreshList();
  else if (outbox) render();
}, 2500);

try {
  if (state.apiKey && state.egsUnitId && state.vaultId) await openDevice();
  await init();
  await refreshList();
  render();
  window.zatcaDemoReady = true;
} catch (e) {
  $('#app').innerHTML = `<p class="error">${esc(e.message)}</p>`;
  window.zatcaDemoReady = `error: ${e.message}`;
}
