// ChainAllocator in Node: 100 concurrent signs get 100 distinct consecutive ICVs and a correct
// hash chain; the chain survives reopening; a failed sign consumes nothing; separate
// processes on the same chain file never share an ICV.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import init, { ChainAllocator, INITIAL_PIH, KeyVault, ZatcaError, initTools, invoiceHash, verifyInvoice } from '@zatca-kit/zatca';

import { CERT_PEM, KEY_PEM, NPM_DIR, cases, readText } from './helpers.mjs';

await init();
await initTools();

const dir = mkdtempSync(join(tmpdir(), 'zatca-chain-'));
const input = JSON.parse(readText(join(cases('invoices').find((c) => c.name === 'simplified-invoice').dir, 'input.json')));
const vaultPath = join(dir, 'vault.json');
const PASSPHRASE = 'chain test passphrase';
const vault = await KeyVault.open({ path: vaultPath, passphrase: PASSPHRASE, iterations: 100_000 });
await vault.importPrivateKey(KEY_PEM);
await vault.setCertificate(CERT_PEM);

/** Checks ICVs first..last are consecutive and each document chains to the previous one. */
function checkChain(records, signedByIcv, firstPih = INITIAL_PIH) {
  let pih = firstPih;
  records.forEach((r, i) => {
    assert.equal(r.icv, records[0].icv + i, 'ICVs are consecutive');
    assert.equal(r.pih, pih, `ICV ${r.icv} carries the previous document's hash`);
    const signed = signedByIcv?.get(r.icv);
    if (signed) {
      assert.equal(signed.hash, r.hash);
      assert.equal(invoiceHash(signed.xml), r.hash);
      const report = verifyInvoice(signed.xml, { expectedPih: pih });
      assert.deepEqual(report.issues, [], `ICV ${r.icv}`);
      assert.equal(report.icv, r.icv);
    }
    pih = r.hash;
  });
  return pih;
}

test('100 concurrent signs: 100 distinct consecutive ICVs and a correct hash chain', async () => {
  const chain = await ChainAllocator.open({ path: join(dir, 'egs-1.chain.json'), egsUnitId: 'egs-1' });
  assert.deepEqual(await chain.state(), { icv: 0, pih: INITIAL_PIH, next_icv: 1 });
  const signed = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      chain.signInvoice(vault, { ...input, invoice_number: `INV-${i}` }, { signing_time: '2025-01-15T14:31:00' }),
    ),
  );
  const icvs = signed.map((s) => s.icv).sort((a, b) => a - b);
  assert.deepEqual(icvs, Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(new Set(signed.map((s) => s.uuid)).size, 100);
  const history = await chain.history();
  assert.equal(history.length, 100);
  const last = checkChain(history, new Map(signed.map((s) => [s.icv, s])));
  assert.deepEqual(await chain.state(), { icv: 100, pih: last, next_icv: 101 });

  // Survives a restart: a new allocator on the same file continues the chain.
  const reopened = await ChainAllocator.open({ path: join(dir, 'egs-1.chain.json'), egsUnitId: 'egs-1' });
  const next = await reopened.signInvoice(vault, input);
  assert.equal(next.icv, 101);
  assert.equal(verifyInvoice(next.xml, { expectedPih: last }).ok, true);
  assert.deepEqual((await reopened.history({ fromIcv: 100 })).map((r) => r.icv), [100, 101]);
  await assert.rejects(ChainAllocator.open({ path: join(dir, 'egs-1.chain.json'), egsUnitId: 'egs-2' }).then((c) => c.state()), {
    code: 'chain_conflict',
  });
});

test('a failed sign consumes no ICV; results must carry the allocated ICV', async () => {
  const chain = await ChainAllocator.open({ path: join(dir, 'egs-fail.json') });
  await assert.rejects(chain.next(() => { throw new Error('printer on fire'); }), /printer on fire/);
  await assert.rejects(
    chain.signInvoice(vault, { ...input, invoice_date: 'tomorrow' }),
    (e) => e instanceof ZatcaError && e.code === 'invalid_date',
  );
  await assert.rejects(chain.next(() => ({ hash: 'not a hash' })), { code: 'invalid_argument' });
  await assert.rejects(chain.next((slot) => vault.signInvoice(input, { ...slot, icv: slot.icv + 1 })), { code: 'chain_conflict' });
  assert.equal((await chain.state()).icv, 0);
  const ok = await chain.signInvoice(vault, input, { uuid: 'my-own-uuid' });
  assert.equal(ok.icv, 1);
  assert.equal(ok.uuid, 'my-own-uuid');
  assert.equal((await chain.history())[0].uuid, 'my-own-uuid');
});

test('initial state for a unit that already issued documents; crash between log and head', async () => {
  const pih = 'KZt8PnV0E6/Zoadj6cU++JBVolciL5KMtaGiiaQNWGc=';
  const path = join(dir, 'migrated.json');
  const chain = await ChainAllocator.open({ path, initial: { icv: 41, pih } });
  const signed = await chain.signInvoice(vault, input);
  assert.equal(signed.icv, 42);
  assert.equal(verifyInvoice(signed.xml, { expectedPih: pih }).ok, true);
  // A crash after the log append but before the head was replaced: the log wins.
  appendFileSync(`${path}.log`, `${JSON.stringify({ icv: 43, uuid: 'x', pih: signed.hash, hash: pih, recorded_at: '' })}\n{"torn`);
  assert.deepEqual(await chain.state(), { icv: 43, pih, next_icv: 44 });
  await assert.rejects(ChainAllocator.open({ path, initial: { icv: -1, pih } }), { code: 'invalid_argument' });
});

test('two allocators in one process and two processes never share an ICV', async () => {
  const path = join(dir, 'shared.json');
  const a = await ChainAllocator.open({ path });
  const b = await ChainAllocator.open({ path });
  const local = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).signInvoice(vault, input)));
  assert.deepEqual(local.map((s) => s.icv).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));

  const worker = `
    import { init, KeyVault, ChainAllocator } from '@zatca-kit/zatca';
    await init();
    const vault = await KeyVault.open({ path: process.argv[1], passphrase: process.argv[2] });
    const chain = await ChainAllocator.open({ path: process.argv[3] });
    const input = JSON.parse(process.argv[4]);
    const out = await Promise.all(Array.from({ length: 15 }, () => chain.signInvoice(vault, input)));
    console.log(JSON.stringify(out.map((s) => s.icv)));`;
  const run = () =>
    promisify(execFile)(process.execPath, ['--input-type=module', '-e', worker, vaultPath, PASSPHRASE, path, JSON.stringify(input)], {
      cwd: NPM_DIR,
    });
  const outputs = await Promise.all([run(), run(), run()]);
  const remote = outputs.flatMap((o) => JSON.parse(o.stdout));
  const all = [...local.map((s) => s.icv), ...remote].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: 65 }, (_, i) => i + 1));
  const history = await a.history();
  assert.equal(history.length, 65);
  checkChain(history);
});
