// Outbox.issue: a signed document is stored in the outbox before the chain records it, so a
// crash between the two loses nothing — the next issue adopts the stored document into the
// chain, and the documents chain continuously.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import init, { ChainAllocator, INITIAL_PIH, KeyVault, Outbox, initTools, verifyInvoice } from '@zatca-kit/zatca';

import { CERT_PEM, KEY_PEM, cases, readText } from './helpers.mjs';

await init();
await initTools();

const dir = mkdtempSync(join(tmpdir(), 'zatca-outbox-issue-'));
const input = JSON.parse(readText(join(cases('invoices').find((c) => c.name === 'simplified-invoice').dir, 'input.json')));
const vault = await KeyVault.open({ path: join(dir, 'vault.json'), passphrase: 'outbox issue test', iterations: 100_000 });
await vault.importPrivateKey(KEY_PEM);
await vault.setCertificate(CERT_PEM);

test('a crash between storing and recording loses nothing: the next issue adopts the stored document', async () => {
  const chainPath = join(dir, 'egs-a.chain.json');
  const outboxPath = join(dir, 'outbox.json');
  let chain = await ChainAllocator.open({ path: chainPath, egsUnitId: 'egs-a' });
  let outbox = await Outbox.open({ path: outboxPath, client: null });
  const sign = (slot) => vault.signInvoice({ ...input, invoice_number: `T-${slot.icv}` }, slot);

  const first = await outbox.issue(chain, sign, (slot) => ({ number: `T-${slot.icv}` }));
  assert.equal(first.signed.icv, 1);
  assert.equal(first.entry.meta.number, 'T-1');
  assert.equal((await chain.state()).icv, 1, 'recorded');

  // The process dies after the outbox stored ICV 2 and before the chain recorded it (here: the
  // chain's step fails right after the outbox's write, so the chain records nothing).
  await assert.rejects(
    chain.next(async (slot) => {
      const doc = await sign(slot);
      await outbox.add('egs-a', doc, { number: `T-${slot.icv}` });
      throw new Error('crash');
    }),
    /crash/,
  );
  assert.equal((await chain.state()).icv, 1, 'the chain did not record ICV 2');
  chain.close();
  outbox.close();

  // After the restart: the stored ICV 2 is adopted, the new document takes ICV 3.
  chain = await ChainAllocator.open({ path: chainPath, egsUnitId: 'egs-a' });
  outbox = await Outbox.open({ path: outboxPath, client: null });
  const third = await outbox.issue(chain, sign);
  assert.equal(third.signed.icv, 3);
  const history = await chain.history();
  assert.deepEqual(
    history.map((r) => r.icv),
    [1, 2, 3],
  );
  const entries = await outbox.entries();
  assert.deepEqual(
    entries.map((e) => e.icv),
    [1, 2, 3],
    'every recorded document is in the outbox, once',
  );
  // The three documents chain: each one's PIH is the previous one's hash.
  let pih = INITIAL_PIH;
  for (const entry of entries) {
    const report = verifyInvoice(entry.xml, { expectedPih: pih });
    assert.deepEqual(report.issues, [], `ICV ${entry.icv}`);
    assert.equal(history.find((r) => r.icv === entry.icv).hash, entry.hash);
    pih = entry.hash;
  }
  // Adopting again changes nothing (the chain is past it).
  assert.equal(await chain.adopt(entries[1]), false);
  chain.close();
  outbox.close();
});

test('a sign callback that returns a document at another ICV is refused before anything is stored', async () => {
  const chain = await ChainAllocator.open({ path: join(dir, 'egs-b.chain.json'), egsUnitId: 'egs-b' });
  const outbox = await Outbox.open({ path: join(dir, 'outbox-b.json'), client: null });
  await assert.rejects(
    outbox.issue(chain, (slot) => vault.signInvoice(input, { ...slot, icv: slot.icv + 5 })),
    (e) => e.code === 'invalid_argument',
  );
  assert.deepEqual(await outbox.entries(), []);
  assert.equal((await chain.state()).icv, 0);
  chain.close();
  outbox.close();
});
