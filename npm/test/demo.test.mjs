// The browser point of sale (demo/) end to end: Debian's Chromium driven by Playwright
// (playwright-core) against the real relay in demo mode serving demo/ and this package, with
// its in-process ZATCA simulators. First visit (account, device-custody unit onboarded from
// the page), cashier (Arabic item names, totals as the core computes them, QR, PDF), the
// offline switch with a reload while invoices are queued, the B2B invoice and its credit
// note, the list; screenshots in English and Arabic, desktop and phone, in test-results/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import init, { INITIAL_PIH, buildInvoice } from '@zatca-kit/zatca';

import { chromiumSkip, CHROMIUM } from './chromium.mjs';
import { NPM_DIR, REPO } from './helpers.mjs';
import { startRelay } from './relay-helper.mjs';

await init();
const skip = chromiumSkip();
const SHOTS = join(NPM_DIR, 'test-results', 'demo');

let relay;
let context;
let userDataDir;
let page;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(join(NPM_DIR, 'dist', 'zatca_sign_bg.wasm')), 'build the package first (npm/scripts/build.sh)');
  // Short ZATCA timeout and inline budget: the queue takes over a failed first attempt after
  // inline budget + timeout + 1 s (relay/src/invoicing.rs), 5.5 s here instead of 34 s.
  relay = await startRelay(['--demo-dir', join(REPO, 'demo'), '--job-backoff-ms', '300', '--zatca-timeout-secs', '3', '--inline-submit-ms', '1500']);
  const { chromium } = await import('playwright-core');
  userDataDir = mkdtempSync(join(tmpdir(), 'zatca-demo-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 860 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  mkdirSync(SHOTS, { recursive: true });
  page = await context.newPage();
  page.on('dialog', (d) => {
    throw new Error(`unexpected dialog: ${d.message()}`);
  });
});

after(async () => {
  await context?.close();
  relay?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

async function ready(p) {
  await p.waitForFunction(() => window.zatcaDemoReady !== undefined, null, { timeout: 30_000 });
  const r = await p.evaluate(() => window.zatcaDemoReady);
  assert.equal(r, true, `demo failed to load: ${r}`);
}

/** The whole page, or (phones, where the total bar is fixed to the bottom) what the screen shows. */
async function shot(p, name, fullPage = true) {
  // From the top: a full-page capture of a scrolled page shifts the sticky header.
  if (fullPage) await p.evaluate(() => window.scrollTo(0, 0));
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

function demoState(p) {
  return p.evaluate(() => JSON.parse(localStorage.getItem('zatca-demo')));
}

async function api(p, path) {
  const { apiKey } = await demoState(p);
  const r = await fetch(`${relay.base}${path}`, { headers: { authorization: `Bearer ${apiKey}` } });
  return r.json();
}

async function setLang(p, lang) {
  if ((await p.getAttribute('html', 'lang')) !== lang) await p.getByTestId('lang').click();
  await p.waitForFunction((l) => document.documentElement.lang === l, lang);
}

test('first visit: account and a device-custody unit onboarded from the page', { skip, timeout: 120_000 }, async () => {
  await page.goto(relay.base);
  await ready(page);
  await shot(page, 'en-desktop-1-setup');
  await page.getByTestId('setup-go').click();
  await page.getByTestId('setup-steps').waitFor();
  await page.locator('[data-testid=setup-steps] li.done').first().waitFor();
  await shot(page, 'en-desktop-1-setup-progress');
  await page.getByTestId('product-coffee').waitFor({ timeout: 90_000 });
  const state = await demoState(page);
  assert.match(state.apiKey, /^zatca_test_/);
  const status = await api(page, `/v1/egs/${state.egsUnitId}/status`);
  assert.equal(status.onboarding_status, 'active');
  assert.equal(status.custody, 'device');
  assert.equal(status.invoice_type, 'both');
  // The key is in the browser's vault (IndexedDB), not on the relay: the relay holds a CSR's
  // certificate for it, and the page's vault has the same public key.
  const vaultKey = await page.evaluate(async (id) => {
    const { KeyVault, certificateInfo } = await import('/npm/index.js');
    const vault = await KeyVault.open({ egsUnitId: id });
    const pub = await vault.publicKey();
    const cert = certificateInfo(await vault.certificate());
    return { same: pub.every((b, i) => b === cert.public_key[i]), length: pub.length };
  }, state.vaultId);
  assert.deepEqual(vaultKey, { same: true, length: 88 });
});

test('cashier: totals exactly as the core computes them, signed in the browser, QR, PDF', { skip, timeout: 60_000 }, async () => {
  await page.getByTestId('product-coffee').click();
  await page.getByTestId('product-coffee').click();
  await page.getByTestId('product-samosa').click();
  await page.getByTestId('product-dates').click();
  const core = buildInvoice(
    {
      invoice_number: 'X',
      invoice_date: '2025-01-15',
      invoice_time: '10:00:00',
      invoice_type: 'simplified',
      seller: { name: 'S', vat_number: '399999999900003', address: { street: 'a', building_number: '1234', district: 'd', city: 'Riyadh', postal_code: '12345', country: 'SA' } },
      line_items: [
        { description: 'Arabic coffee', quantity: 2, unit_price: 12 },
        { description: 'Samosa', quantity: 1, unit_price: 9.99 },
        { description: 'Dates', quantity: 1, unit_price: 35.5 },
      ],
    },
    { icv: 1, pih: INITIAL_PIH, uuid: '3cf5ee18-ee25-44ea-a444-2c37ba7f28be' },
  ).totals;
  await page.waitForFunction((total) => document.querySelector('[data-testid=total]')?.innerText === total, `${core.tax_inclusive} SAR`);
  const shown = {
    subtotal: await page.getByTestId('subtotal').innerText(),
    vat: await page.getByTestId('vat').innerText(),
    total: await page.getByTestId('total').innerText(),
  };
  assert.deepEqual(shown, {
    subtotal: `${core.tax_exclusive} SAR`,
    vat: `${core.vat_total} SAR`,
    total: `${core.tax_inclusive} SAR`,
  });
  await shot(page, 'en-desktop-2-cart');
  await page.getByTestId('issue').click();
  await page.getByTestId('receipt').waitFor();
  await page.locator('[data-testid=receipt] .badge[data-status=reported]').waitFor({ timeout: 20_000 });
  assert.ok(await page.locator('[data-testid=qr] svg').isVisible());
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-pdf').click()]);
  const pdf = readFileSync(await download.path());
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  assert.match(download.suggestedFilename(), /^S-\d{5}\.pdf$/);
  await shot(page, 'en-desktop-3-receipt');
});

test('offline: invoices queue in the outbox, survive a reload, and are sent once back online', { skip, timeout: 90_000 }, async () => {
  const { egsUnitId } = await demoState(page);
  const before = (await api(page, '/v1/invoices?limit=1')).pagination.total_count;
  await page.getByTestId('net-switch').click();
  for (const product of ['karak', 'kunafa', 'laban']) {
    const previous = await page.getByTestId('receipt-number').innerText();
    await page.getByTestId(`product-${product}`).click();
    await page.getByTestId('issue').click();
    await page.waitForFunction((n) => document.querySelector('[data-testid=receipt-number]')?.textContent !== n, previous);
    await page.locator('[data-testid=receipt] .badge[data-status=queued]').waitFor();
  }
  assert.equal(await page.getByTestId('outbox-count').innerText(), '3');
  await page.getByTestId('nav-invoices').click();
  await page.getByTestId('outbox-summary').waitFor();
  assert.match(await page.getByTestId('outbox-summary').innerText(), /^3 waiting to send · first reporting deadline: 2[34] h \d+ min left$/);
  await shot(page, 'en-desktop-4-offline-outbox');
  // A queued invoice's PDF is rendered in the page, without the relay.
  const [offlinePdf] = await Promise.all([page.waitForEvent('download'), page.locator('[data-localpdf]').first().click()]);
  assert.equal(readFileSync(await offlinePdf.path()).subarray(0, 5).toString(), '%PDF-');
  assert.equal((await api(page, '/v1/invoices?limit=1')).pagination.total_count, before, 'nothing reached the relay');

  // A reload while they are queued: the outbox is in IndexedDB, the switch stays off.
  await page.reload();
  await ready(page);
  assert.equal(await page.getByTestId('outbox-count').innerText(), '3');
  assert.equal(await page.locator('.badge[data-status=queued]').count(), 3);

  await page.getByTestId('net-switch').click();
  await page.waitForFunction(() => !document.querySelector('[data-testid=outbox-count]'), null, { timeout: 20_000 });
  await page.waitForFunction(() => document.querySelectorAll('.badge[data-status=reported]').length >= 4, null, { timeout: 20_000 });
  const list = await api(page, `/v1/invoices?limit=100&egs_unit_id=${egsUnitId}`);
  assert.equal(list.pagination.total_count, before + 3, 'each queued invoice reached the relay once');
  const numbers = list.data.map((x) => x.invoice_number);
  assert.equal(new Set(numbers).size, numbers.length);
  const counters = await (await fetch(`${relay.sandboxSim}/admin/counters`)).json();
  const accepted = Object.values(counters.invoices).map((c) => c.accepted);
  assert.ok(accepted.length >= 4 && accepted.every((n) => n === 1), `ZATCA accepted each document once: ${accepted}`);
  const status = await api(page, `/v1/egs/${egsUnitId}/status`);
  assert.equal(status.chain_note ?? null, null, `the chain stayed continuous: ${JSON.stringify(status.chain_note)}`);
  await shot(page, 'en-desktop-5-invoices');
});

test('a real loss of network (Chromium offline) queues too, and the invoice goes out when it is back', { skip, timeout: 60_000 }, async () => {
  await page.getByTestId('nav-pos').click();
  await context.setOffline(true);
  await page.waitForFunction(() => document.querySelector('[data-testid=net-switch]')?.dataset.state === 'no-connection');
  const previous = await page.evaluate(() => document.querySelector('[data-testid=receipt-number]')?.textContent ?? '');
  await page.getByTestId('product-saffron').click();
  await page.getByTestId('issue').click();
  await page.waitForFunction((n) => document.querySelector('[data-testid=receipt-number]')?.textContent !== n, previous);
  await page.locator('[data-testid=receipt] .badge[data-status=queued]').waitFor();
  const entry = await page.evaluate(async () => {
    const { Outbox } = await import('/npm/index.js');
    const outbox = await Outbox.open({ client: null });
    const [queued] = await outbox.pending();
    return { code: queued?.last_error?.code, count: (await outbox.pending()).length };
  });
  assert.deepEqual(entry, { code: 'NETWORK_ERROR', count: 1 });
  await context.setOffline(false);
  await page.locator('[data-testid=receipt] .badge[data-status=reported]').waitFor({ timeout: 20_000 });
  assert.equal(await page.getByTestId('net-switch').getAttribute('data-state'), 'online');
});

test('the list follows an invoice live: retrying while ZATCA fails, then reported', { skip, timeout: 60_000 }, async () => {
  const faults = (body) =>
    fetch(`${relay.sandboxSim}/admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await faults({ error_rate: 1 });
  await page.getByTestId('nav-pos').click();
  await page.getByTestId('product-laban').click();
  await page.getByTestId('issue').click();
  await page.getByTestId('nav-invoices').click();
  const row = page.locator('[data-testid=invoice-list] tbody tr').first();
  await row.locator('.badge[data-status=retrying]').waitFor({ timeout: 20_000 });
  await shot(page, 'en-desktop-5-retrying');
  await faults({ error_rate: 0 });
  await row.locator('.badge[data-status=reported]').waitFor({ timeout: 20_000 });
  const detail = await api(page, `/v1/invoices/${(await api(page, '/v1/invoices?limit=1')).data[0].invoice_id}`);
  assert.deepEqual(detail.timeline.map((x) => x.status), ['pending', 'submitted', 'retrying', 'reported']);
});

test('a till whose clock runs two days ahead: ZATCA rejects the invoice, the list shows its message', { skip, timeout: 60_000 }, async () => {
  await page.getByTestId('nav-pos').click();
  const previous = await page.evaluate(() => document.querySelector('[data-testid=receipt-number]')?.textContent ?? '');
  await page.evaluate(() => {
    const real = Date.now;
    window.__realNow = real;
    Date.now = () => real() + 2 * 24 * 3600 * 1000;
  });
  await page.getByTestId('product-water').click();
  await page.getByTestId('issue').click();
  await page.waitForFunction((n) => document.querySelector('[data-testid=receipt-number]')?.textContent !== n, previous);
  await page.locator('[data-testid=receipt] .badge[data-status=rejected]').waitFor({ timeout: 20_000 });
  assert.match(await page.getByTestId('receipt-error').innerText(), /issue date/);
  assert.equal(await page.getByTestId('download-pdf').count(), 0, 'no PDF for a rejected invoice');
  await page.evaluate(() => {
    Date.now = window.__realNow;
  });
  const number = await page.getByTestId('receipt-number').innerText();
  await page.getByTestId('nav-invoices').click();
  const row = page.locator(`[data-testid=invoice-list] tr[data-number="${number}"]`);
  await row.locator('.msg').filter({ hasText: /\S/ }).waitFor({ timeout: 10_000 });
  assert.equal(await row.count(), 1, 'one row for the rejected invoice');
  const message = await row.locator('.msg').innerText();
  assert.match(message, /BR-KSA-04|future|date/i, message);
  await shot(page, 'en-desktop-5-rejected');
  // The next sale goes through: the rejected invoice kept its chain position.
  await page.getByTestId('nav-pos').click();
  await page.getByTestId('product-water').click();
  await page.getByTestId('issue').click();
  await page.waitForFunction((n) => document.querySelector('[data-testid=receipt-number]')?.textContent !== n, number);
  await page.locator('[data-testid=receipt] .badge[data-status=reported]').waitFor({ timeout: 20_000 });
});

test('B2B: a standard invoice cleared, and a credit note against it', { skip, timeout: 60_000 }, async () => {
  await page.getByTestId('nav-b2b').click();
  await page.getByTestId('issue-b2b').click();
  const item = page.locator('[data-testid^=b2b-B-]').first();
  await item.locator('.badge[data-status=cleared]').first().waitFor({ timeout: 20_000 });
  const number = (await item.getAttribute('data-testid')).slice(4);
  await page.getByTestId(`credit-${number}`).click();
  await item.locator('.note .badge[data-status=cleared]').waitFor({ timeout: 20_000 });
  // The PDF of the cleared invoice comes from the relay (ZATCA's cleared XML inside).
  const [pdf] = await Promise.all([page.waitForEvent('download'), item.locator('[data-pdf]').first().click()]);
  assert.equal(readFileSync(await pdf.path()).subarray(0, 5).toString(), '%PDF-');
  assert.equal(pdf.suggestedFilename(), `${number}.pdf`);
  const list = await api(page, '/v1/invoices?limit=100&invoice_type=standard');
  assert.deepEqual(list.data.map((x) => [x.document_type, x.status]), [['credit_note', 'cleared'], ['invoice', 'cleared']]);
  await shot(page, 'en-desktop-6-b2b');
});

test('Arabic: right-to-left on desktop and phone; English on the phone', { skip, timeout: 60_000 }, async () => {
  await setLang(page, 'ar');
  assert.equal(await page.getAttribute('html', 'dir'), 'rtl');
  await shot(page, 'ar-desktop-6-b2b');
  await page.getByTestId('nav-pos').click();
  await page.getByTestId('product-dates').click();
  await page.getByTestId('product-water').click();
  await shot(page, 'ar-desktop-2-cart');
  const previous = await page.evaluate(() => document.querySelector('[data-testid=receipt-number]')?.textContent ?? '');
  await page.getByTestId('issue').click();
  await page.waitForFunction((n) => document.querySelector('[data-testid=receipt-number]')?.textContent !== n, previous);
  await page.locator('[data-testid=receipt] .badge[data-status=reported]').waitFor({ timeout: 20_000 });
  await shot(page, 'ar-desktop-3-receipt');
  await page.getByTestId('nav-invoices').click();
  await page.getByTestId('invoice-list').waitFor();
  await shot(page, 'ar-desktop-5-invoices');

  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${relay.base}/#/pos`);
  await ready(phone);
  assert.equal(await phone.getAttribute('html', 'dir'), 'rtl');
  await phone.getByTestId('product-kunafa').click();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the phone layout scrolls sideways by ${overflow}px`);
  await shot(phone, 'ar-phone-2-cart', false);
  await phone.goto(`${relay.base}/#/invoices`);
  await phone.getByTestId('invoice-list').waitFor();
  await shot(phone, 'ar-phone-5-invoices');
  await setLang(phone, 'en');
  await phone.goto(`${relay.base}/#/pos`);
  await phone.getByTestId('product-coffee').click();
  await shot(phone, 'en-phone-2-cart', false);
  await phone.goto(`${relay.base}/#/b2b`);
  await phone.getByTestId('issue-b2b').waitFor();
  const overflowB2b = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflowB2b <= 0, `the B2B page scrolls sideways by ${overflowB2b}px`);
  await shot(phone, 'en-phone-6-b2b');
  await phone.close();
});
