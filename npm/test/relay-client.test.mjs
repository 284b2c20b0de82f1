// RelayClient and Outbox from Node against the real relay (its own process, demo mode, the
// in-process ZATCA simulators): a device-custody unit onboarded with a key generated in a
// file vault, the API's errors as RelayErrors, idempotent creates, pagination, XML and PDF;
// then the outbox across a relay that is really unreachable (a proxy cut in front of it) and
// a restart (another process flushing the same file): chain order, nothing lost, nothing sent
// twice.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import init, { ChainAllocator, KeyVault, Outbox, RelayClient, RelayError, initTools, isRelayError } from '@zatca-kit/zatca';

import { NPM_DIR } from './helpers.mjs';
import { SELLER, complianceInput, csrConfig, freePort, startProxy, startRelay } from './relay-helper.mjs';

await init();
await initTools();
const execFileAsync = promisify(execFile);

let relay;
let proxy;
let dir;
let client;
let vault;
let unit;
let chain;

before(async () => {
  relay = await startRelay();
  proxy = await startProxy(relay.port);
  dir = mkdtempSync(join(tmpdir(), 'zatca-client-'));
});

after(async () => {
  await proxy?.down();
  relay?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function saleInput(number, price = 10) {
  return {
    invoice_number: number,
    invoice_date: '2025-01-15',
    invoice_time: '14:30:00',
    invoice_type: 'simplified',
    document_type: 'invoice',
    seller: SELLER,
    line_items: [{ description: 'Coffee', description_ar: 'قهوة', quantity: 2, unit_price: price }],
  };
}

test('errors are RelayErrors with the relay code, message, retryable and status', async () => {
  const anonymous = new RelayClient({ baseUrl: relay.base });
  await assert.rejects(anonymous.account(), (e) => e instanceof RelayError && e.code === 'UNAUTHORIZED' && e.status === 401);
  const bad = new RelayClient({ baseUrl: relay.base, apiKey: 'zatca_test_nope' });
  await assert.rejects(bad.account(), (e) => isRelayError(e) && e.code === 'INVALID_API_KEY' && e.status === 401 && e.retryable === false);
  const closed = new RelayClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiKey: 'x', retries: 1, retryDelayMs: 10 });
  await assert.rejects(closed.account(), (e) => e.code === 'NETWORK_ERROR' && e.retryable === true && e.status === 0);
});

test('a device-custody unit onboards with a key generated in the vault', { timeout: 60_000 }, async () => {
  client = new RelayClient({ baseUrl: proxy.base });
  const account = await client.onboard({ name: 'Node Outbox Co' });
  assert.match(client.apiKey, /^zatca_test_/);
  assert.equal(account.api_key.key, client.apiKey);
  await assert.rejects(
    client.createEgsUnit({ unit_name: '' }),
    (e) => e.status === 400 && e.retryable === false && typeof e.message === 'string' && e.message.length > 0,
  );
  vault = await KeyVault.open({ path: join(dir, 'vault.json'), passphrase: 'correct horse battery staple', egsUnitId: 'node-pos' });
  const steps = [];
  const status = await client.onboardDeviceUnit(vault, {
    unit_name: 'Node outbox POS',
    invoice_type: 'both',
    seller: SELLER,
    csr: csrConfig('Node outbox POS', '1100'),
    complianceInput,
    onProgress: (p) => steps.push(p.kind ? `${p.step}:${p.kind}` : p.step),
  });
  assert.equal(status.onboarding_status, 'active', JSON.stringify(status));
  assert.deepEqual(steps.slice(0, 4), ['key', 'csr', 'unit', 'compliance_csid']);
  assert.equal(steps.filter((s) => s.startsWith('compliance_document:')).length, 6);
  assert.equal(steps.at(-1), 'active');
  unit = status.egs_unit_id;
  // The certificate in the vault is the one issued for its own key (checked by setCertificate).
  assert.ok((await vault.certificate()).startsWith('-----BEGIN CERTIFICATE-----'));
  chain = await ChainAllocator.open({
    path: join(dir, 'chain.json'),
    egsUnitId: unit,
    initial: { icv: status.next_chain.icv - 1, pih: status.next_chain.pih },
  });
});

test('accounts, keys and units through the client', { timeout: 30_000 }, async () => {
  const account = await client.account();
  assert.ok(account.account_id ?? account.id, JSON.stringify(account));
  const second = await client.createKey({ name: 'till 2', default_egs_unit_id: unit });
  assert.match(second.key, /^zatca_test_/);
  const renamed = await client.updateKey(second.id, { name: 'till two', default_egs_unit_id: null });
  assert.equal(renamed.name, 'till two');
  const keys = await client.listKeys();
  assert.ok(JSON.stringify(keys).includes(second.id));
  assert.ok(!JSON.stringify(keys).includes(second.key), 'listed keys are masked');
  await client.revokeKey(second.id);
  const revoked = new RelayClient({ baseUrl: proxy.base, apiKey: second.key });
  await assert.rejects(revoked.account(), (e) => e.status === 401 || e.code === 'API_KEY_REVOKED');
  assert.ok(JSON.stringify(await client.listEgsUnits()).includes(unit));
  const docs = await client.complianceDocuments(unit);
  assert.equal(JSON.stringify(docs).includes('standard_debit_note'), true);
  const audit = await client.auditLog(unit, { limit: 2 });
  assert.ok(JSON.stringify(audit).length > 2);
  await assert.rejects(client.retryOnboarding(unit), (e) => e.code === 'EGS_NOT_FAILED' && e.status === 409);
  assert.deepEqual(Object.keys(await client.health()).length > 0, true);
});

test('submitSigned: one invoice per Idempotency-Key, list with a cursor, detail, XML, PDF', { timeout: 60_000 }, async () => {
  const signed = await chain.signInvoice(vault, saleInput('NODE-1'));
  const first = await client.submitSigned(signed, { egsUnitId: unit, idempotencyKey: 'sale-node-1' });
  assert.equal(first.status, 'reported');
  assert.equal(first.chain.status, 'continuous');
  assert.equal(first.total, 23);
  const again = await client.submitSigned(signed, { egsUnitId: unit, idempotencyKey: 'sale-node-1' });
  assert.equal(again.invoice_id, first.invoice_id);
  // The same key with other bytes is refused, as the relay documents.
  const other = await chain.signInvoice(vault, saleInput('NODE-2'));
  await assert.rejects(
    client.submitSigned(other, { egsUnitId: unit, idempotencyKey: 'sale-node-1' }),
    (e) => e.code === 'IDEMPOTENCY_KEY_REUSED' && e.status === 409,
  );
  await client.submitSigned(other, { egsUnitId: unit });
  const third = await chain.signInvoice(vault, saleInput('NODE-3'));
  await client.submitSigned(third, { egsUnitId: unit });

  // The client's own retry after a lost answer: the same Idempotency-Key, so one invoice.
  const keys = [];
  let calls = 0;
  const lossy = new RelayClient({
    baseUrl: proxy.base,
    apiKey: client.apiKey,
    retryDelayMs: 10,
    fetch: async (url, init) => {
      keys.push(init.headers['idempotency-key']);
      const response = await fetch(url, init);
      if (++calls === 1) throw new TypeError('connection reset after the relay answered');
      return response;
    },
  });
  const fourth = await chain.signInvoice(vault, saleInput('NODE-4'));
  const retried = await lossy.submitSigned(fourth, { egsUnitId: unit });
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1], 'the retry reuses the key');
  assert.match(keys[0], /^[0-9a-f-]{36}$/);
  assert.equal((await client.getInvoice(retried.invoice_id)).invoice_number, 'NODE-4');

  const page = await client.listInvoices({ limit: 2 });
  assert.equal(page.data.length, 2);
  assert.equal(page.pagination.has_more, true);
  assert.equal(page.pagination.total_count, 4, 'the lost answer made no second invoice');
  const all = [];
  for await (const inv of client.invoices({ limit: 1 })) all.push(inv.invoice_number);
  assert.deepEqual(all, ['NODE-4', 'NODE-3', 'NODE-2', 'NODE-1']);

  const detail = await client.getInvoice(first.invoice_id);
  assert.equal(detail.device_signed, true);
  assert.deepEqual(detail.timeline.map((x) => x.status), ['pending', 'submitted', 'reported']);
  assert.equal(await client.invoiceXml(first.invoice_id), signed.xml);
  const pdf = await client.invoicePdf(first.invoice_id);
  assert.equal(new TextDecoder().decode(pdf.subarray(0, 5)), '%PDF-');
  await assert.rejects(client.getInvoice('00000000-0000-0000-0000-000000000000'), (e) => e.code === 'INVOICE_NOT_FOUND' && e.status === 404);
});

test('outbox: queued while the relay is unreachable, sent in chain order after a restart, never twice', { timeout: 90_000 }, async () => {
  const path = join(dir, 'outbox.json');
  let outbox = await Outbox.open({ path, client });
  const before = (await client.listInvoices({ limit: 1 })).pagination.total_count;

  await proxy.down();
  const numbers = ['OFF-1', 'OFF-2', 'OFF-3', 'OFF-4'];
  const entries = [];
  for (const n of numbers) entries.push(await outbox.add(unit, await chain.signInvoice(vault, saleInput(n, 7.5)), { number: n }));
  const offline = await outbox.flush();
  assert.deepEqual(offline, { sent: 0, rejected: 0, waiting: 4 });
  const pending = await outbox.pending();
  assert.deepEqual(pending.map((e) => e.meta.number), numbers);
  // Only the first was tried: the others wait behind it (chain order).
  assert.deepEqual(pending.map((e) => e.attempts), [1, 0, 0, 0]);
  assert.equal(pending[0].last_error.code, 'NETWORK_ERROR');
  assert.equal(pending[0].last_error.retryable, true);
  for (const e of pending) {
    assert.equal(Date.parse(e.deadline) - Date.parse(e.issued_at), 24 * 3600 * 1000);
    assert.equal(e.issued_at, '2025-01-15T11:30:00.000Z', 'signing time is Riyadh time (UTC+3)');
  }
  outbox.close();

  // A restart: another process opens the same file and flushes. The answer to OFF-1 was lost
  // once on the way back (sent directly with the entry's key, as a crashed flush would have).
  await proxy.up();
  const lost = await client.submitSigned(entries[0], { egsUnitId: unit, idempotencyKey: entries[0].id });
  const script = `
    import { Outbox, RelayClient } from '@zatca-kit/zatca';
    const client = new RelayClient({ baseUrl: process.argv[1], apiKey: process.env.RELAY_KEY });
    const outbox = await Outbox.open({ path: process.argv[2], client });
    const sent = [];
    outbox.on('sent', ({ entry, result }) => sent.push([entry.meta.number, result.invoice_id, result.chain.status]));
    const flushed = await outbox.flush();
    console.log(JSON.stringify({ flushed, sent }));`;
  const child = await execFileAsync(process.execPath, ['--input-type=module', '-e', script, proxy.base, path], {
    cwd: NPM_DIR,
    env: { ...process.env, RELAY_KEY: client.apiKey },
  });
  const { flushed: online, sent } = JSON.parse(child.stdout);
  assert.deepEqual(online, { sent: 4, rejected: 0, waiting: 0 });
  outbox = await Outbox.open({ path, client });
  assert.deepEqual(sent.map((s) => s[0]), numbers, 'sent in chain order');
  assert.equal(sent[0][1], lost.invoice_id, 'the resent document is the same invoice');
  assert.equal(lost.chain.status, 'continuous');
  // The replayed answer of OFF-1 repeats its first answer's place in the chain; the three sent
  // for the first time continue it.
  assert.ok(sent.every((s) => s[2] === 'continuous'), JSON.stringify(sent));
  assert.deepEqual(await outbox.flush(), { sent: 0, rejected: 0, waiting: 0 });
  const after = (await client.listInvoices({ limit: 1 })).pagination.total_count;
  assert.equal(after - before, 4, 'four documents, four invoices');
  // And ZATCA (the simulator) accepted each exactly once.
  const counters = await (await fetch(`${relay.sandboxSim}/admin/counters`)).json();
  assert.deepEqual(entries.map((e) => counters.invoices[e.hash]?.accepted), [1, 1, 1, 1]);
  // The bytes sent are the bytes stored.
  assert.equal(await client.invoiceXml(sent[3][1]), entries[3].xml);
  const file = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(file.format, 'zatca-outbox');
  assert.ok(Object.values(file.entries).every((e) => e.state === 'sent'));
  outbox.close();
});

test('outbox: a refused document is rejected with the relay error, deadline-near fires', { timeout: 30_000 }, async () => {
  // A near-deadline window longer than 24 hours makes every queued document near its deadline.
  const outbox = await Outbox.open({ path: join(dir, 'outbox-2.json'), client, nearDeadlineMs: 25 * 3600 * 1000 });
  const events = [];
  outbox.on('deadline-near', ({ entry, ms_left }) => events.push(['deadline-near', entry.meta.number, ms_left < 25 * 3600 * 1000]));
  outbox.on('rejected', ({ entry, error }) => events.push(['rejected', entry.meta.number, error.code]));
  outbox.on('sent', ({ entry }) => events.push(['sent', entry.meta.number]));
  const doc = await chain.signInvoice(vault, saleInput('GOOD-1'));
  // Filed under a unit that does not exist: the relay refuses it for good.
  await outbox.add('no-such-unit', doc, { number: 'LOST-UNIT' });
  await outbox.add(unit, doc, { number: 'GOOD-1' });
  assert.deepEqual(await outbox.flush(), { sent: 1, rejected: 1, waiting: 0 });
  assert.deepEqual(
    events.sort(),
    [['deadline-near', 'GOOD-1', true], ['deadline-near', 'LOST-UNIT', true], ['rejected', 'LOST-UNIT', 'EGS_UNIT_NOT_FOUND'], ['sent', 'GOOD-1']].sort(),
  );
  const rejected = (await outbox.entries()).find((e) => e.meta.number === 'LOST-UNIT');
  assert.equal(rejected.state, 'rejected');
  assert.equal(rejected.last_error.status, 400);
  await assert.rejects(outbox.add(unit, { xml: 'x' }), (e) => e.code === 'invalid_argument');
  outbox.close();
});
