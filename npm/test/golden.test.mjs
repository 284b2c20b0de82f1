// Native/WebAssembly parity: every case of the golden corpus (tests/fixtures/invoices) built,
// hashed, signed and QR-encoded through the npm package must give the exact bytes that the
// native core wrote (tests/golden/main.rs produces them the same way).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import init, {
  buildInvoice,
  initTools,
  invoiceHash,
  nextPih,
  qrDecode,
  qrDescribe,
  signInvoice,
  signXml,
  stripSignature,
  verifyInvoice,
} from '@zatca-kit/zatca';

import { CERT_PEM, KEY_PEM, assertBytes, cases, chainOf, read, readText } from './helpers.mjs';

await init();
await initTools();
const signer = { key: KEY_PEM, certificate: CERT_PEM };
const corpus = cases('invoices');

test('the corpus has at least 20 cases', () => {
  assert.ok(corpus.length >= 20, `only ${corpus.length} cases`);
});

for (const { name, dir } of corpus) {
  test(`golden: ${name}`, () => {
    const input = readText(join(dir, 'input.json'));
    const { chain, signingTime } = chainOf(dir);
    const expected = join(dir, 'expected');

    const built = buildInvoice(input, chain);
    assertBytes(built.xml, join(expected, 'unsigned.xml'), `${name} unsigned.xml`);
    const hash = invoiceHash(built.xml);
    assertBytes(`${hash}\n`, join(expected, 'hash.txt'), `${name} hash.txt`);

    const signed = signInvoice(input, chain, signer, { signing_time: signingTime });
    assertBytes(signed.xml, join(expected, 'signed.xml'), `${name} signed.xml`);
    assertBytes(`${signed.qr}\n${qrDescribe(signed.qr)}`, join(expected, 'qr.txt'), `${name} qr.txt`);

    // The same invariants as the native golden test.
    assert.equal(signed.hash, hash, 'signing changed the invoice hash');
    assert.equal(signed.icv, chain.icv);
    assert.equal(signed.uuid, chain.uuid);
    assert.equal(nextPih(signed.xml), signed.hash);
    const report = verifyInvoice(signed.xml, { expectedPih: chain.pih });
    assert.deepEqual(report.issues, []);
    assert.equal(report.ok, true);
    assert.equal(qrDecode(signed.qr).invoice_hash, signed.hash);
    assert.equal(stripSignature(signed.xml), built.xml, 'strip does not give the unsigned document back');
    const again = signXml(signed.xml, signer, { signing_time: signingTime });
    assert.equal(again.xml, signed.xml, 're-signing a signed document is not idempotent');
    // Bytes in, bytes out: the signed file itself as a Uint8Array.
    assert.equal(invoiceHash(read(join(expected, 'signed.xml'))), hash);
  });
}

test('JSON input given as an object signs like its text', () => {
  const { name, dir } = corpus.find((c) => c.name === 'simplified-invoice') ?? corpus[0];
  const { chain, signingTime } = chainOf(dir);
  const object = JSON.parse(readText(join(dir, 'input.json')));
  const signed = signInvoice(object, chain, signer, { signing_time: signingTime });
  assertBytes(signed.xml, join(dir, 'expected', 'signed.xml'), `${name} (object input)`);
});
