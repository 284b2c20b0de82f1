// Errors: every failure is a ZatcaError carrying the right code, path, rule and issues; the
// error corpus (tests/fixtures/errors) gives exactly the issues the native core gives.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import init, {
  INITIAL_PIH,
  ZatcaError,
  buildCsr,
  buildInvoice,
  certificateInfo,
  initTools,
  invoiceHash,
  isZatcaError,
  parseCsr,
  qrDecode,
  qrEncode,
  qrPng,
  signInvoice,
  signXml,
  verifyInvoice,
} from '@zatca-kit/zatca';

import { CERT_PEM, KEY_PEM, cases, chainOf, readText } from './helpers.mjs';

await init();
await initTools();

const chain = { icv: 1, pih: INITIAL_PIH, uuid: 'u-1' };
const signer = { key: KEY_PEM, certificate: CERT_PEM };
const simplified = cases('invoices').find((c) => c.name === 'simplified-invoice');
const goodInput = readText(join(simplified.dir, 'input.json'));

const SECP256K1_OID = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
const P256_OID = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/** SEC1 ECPrivateKey DER with scalar 0x0102…20 on the curve `oid` (no public key). */
function sec1(oid) {
  const scalar = Array.from({ length: 32 }, (_, i) => i + 1);
  const body = [0x02, 0x01, 0x01, 0x04, 0x20, ...scalar, 0xa0, oid.length, ...oid];
  return new Uint8Array([0x30, body.length, ...body]);
}

/** Runs fn, asserts it throws a ZatcaError, returns it. */
function thrown(fn) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ZatcaError, `not a ZatcaError: ${e}`);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'ZatcaError');
    assert.ok(isZatcaError(e));
    assert.equal(typeof e.message, 'string');
    assert.ok(Array.isArray(e.issues) && e.issues.length >= 1);
    assert.equal(e.issues[0].code, e.code);
    assert.equal(e.issues[0].path, e.path);
    assert.equal(e.issues[0].rule, e.rule);
    return e;
  }
  assert.fail('did not throw');
}

for (const { name, dir } of cases('errors')) {
  test(`error corpus: ${name}`, () => {
    const e = thrown(() => buildInvoice(readText(join(dir, 'input.json')), chain));
    const expected = JSON.parse(readText(join(dir, 'expected-errors.json')));
    const got = e.issues.map(({ code, path, rule, severity }) => ({ code, path, rule, severity }));
    assert.deepEqual(got, expected);
    for (const issue of e.issues) assert.equal(typeof issue.message, 'string');
  });
}

test('validation errors carry code, JSON path and ZATCA rule', () => {
  const input = JSON.parse(goodInput);
  input.seller.vat_number = '123';
  const vat = thrown(() => buildInvoice(input, chain));
  assert.equal(vat.code, 'invalid_vat_number');
  assert.equal(vat.path, 'seller.vat_number');
  assert.equal(vat.rule, 'BR-KSA-40');
  assert.equal(vat.severity, 'error');
  assert.match(vat.message, /seller\.vat_number/);
  input.line_items[1].quantity = 'lots';
  const both = thrown(() => buildInvoice(input, chain));
  const found = both.issues.filter((i) => i.severity === 'error').map((i) => `${i.code} ${i.path}`);
  assert.ok(found.includes('invalid_number line_items[1].quantity'), 'every problem is reported at once');
  assert.ok(found.includes('invalid_vat_number seller.vat_number'), 'every problem is reported at once');
});

test('input decoding errors', () => {
  assert.equal(thrown(() => buildInvoice('{not json', chain)).code, 'invalid_json');
  assert.equal(thrown(() => buildInvoice('[]', chain)).code, 'invalid_type');
  const unknown = thrown(() => buildInvoice({ ...JSON.parse(goodInput), colour: 'red' }, chain));
  assert.equal(unknown.code, 'unknown_field');
  assert.equal(unknown.path, 'colour');
  assert.equal(thrown(() => buildInvoice(42, chain)).code, 'invalid_argument');
});

test('chain argument errors', () => {
  for (const bad of [undefined, null, {}, { icv: -1, pih: INITIAL_PIH, uuid: 'u' }, { icv: 1.5, pih: INITIAL_PIH, uuid: 'u' },
    { icv: 1, pih: INITIAL_PIH, uuid: 'u', signingTime: 'x' }]) {
    const e = thrown(() => buildInvoice(goodInput, bad));
    assert.equal(e.code, 'invalid_argument', JSON.stringify(bad));
    assert.match(e.path, /^chain/);
  }
  const pih = thrown(() => buildInvoice(goodInput, { icv: 1, pih: 'abc', uuid: 'u' }));
  assert.equal(pih.code, 'invalid_pih');
  assert.equal(pih.rule, 'BR-KSA-61');
  assert.equal(thrown(() => buildInvoice(goodInput, { icv: 1, pih: INITIAL_PIH, uuid: 'a b' })).code, 'invalid_uuid');
});

test('signing errors', () => {
  const { chain: c } = chainOf(simplified.dir);
  assert.equal(thrown(() => signInvoice(goodInput, c, { key: 'not a key', certificate: CERT_PEM })).code, 'invalid_private_key');
  assert.equal(thrown(() => signInvoice(goodInput, c, { key: new Uint8Array([0x30, 1, 2]), certificate: CERT_PEM })).code, 'invalid_private_key');
  assert.equal(thrown(() => signInvoice(goodInput, c, { key: KEY_PEM, certificate: 'nope' })).code, 'invalid_certificate');
  assert.equal(thrown(() => signInvoice(goodInput, c, null)).code, 'invalid_argument');
  assert.equal(thrown(() => signInvoice(goodInput, c, signer, { signing_time: 3 })).code, 'invalid_argument');
  assert.equal(thrown(() => signInvoice(goodInput, c, signer, { signingTime: 'x' })).code, 'invalid_argument');
  assert.equal(thrown(() => signInvoice(goodInput, c, signer, { signing_time: 'yesterday' })).code, 'invalid_signing_time');
  assert.equal(thrown(() => signInvoice(goodInput, c, { key: sec1(P256_OID), certificate: CERT_PEM })).code, 'unsupported_curve');
  assert.equal(thrown(() => signXml('<a/>', signer)).code, 'not_an_invoice');
  assert.equal(thrown(() => signXml('<Invoice', signer)).code, 'invalid_xml');
  assert.equal(thrown(() => signXml(new Uint8Array([0xff, 0xfe]), signer)).code, 'xml_not_utf8');
  assert.equal(thrown(() => invoiceHash(42)).code, 'invalid_argument');
});

test('a certificate for another key is refused unless unchecked', () => {
  const { chain: c, signingTime } = chainOf(simplified.dir);
  // Another valid secp256k1 key against the SDK certificate.
  const other = sec1(SECP256K1_OID);
  let e;
  try {
    signInvoice(goodInput, c, { key: other, certificate: CERT_PEM });
  } catch (err) {
    e = err;
  }
  assert.equal(e?.code, 'key_certificate_mismatch');
  const signed = signInvoice(goodInput, c, { key: other, certificate: CERT_PEM }, { signing_time: signingTime, unchecked_certificate: true });
  const report = verifyInvoice(signed.xml);
  assert.ok(report.issues.some((i) => i.code === 'invalid_signature'), JSON.stringify(report.issues));
});

test('QR, certificate, CSR and verification errors', () => {
  assert.equal(thrown(() => qrDecode('%%%')).code, 'invalid_qr');
  assert.equal(thrown(() => qrDecode('AQA=')).code, 'missing_qr_tag');
  const tooLong = thrown(() => qrEncode({ seller_name: 'x'.repeat(300), vat_number: '1', timestamp: 't', total_with_vat: '1', vat_total: '1' }));
  assert.equal(tooLong.code, 'qr_value_too_long');
  assert.equal(thrown(() => qrEncode({ seller_name: 'x' })).code, 'invalid_argument');
  assert.equal(thrown(() => qrPng('AQA=', 99)).code, 'invalid_qr_module_size');
  assert.equal(thrown(() => certificateInfo('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')).code, 'invalid_certificate');
  assert.equal(thrown(() => parseCsr('hello')).code, 'invalid_csr');
  assert.equal(thrown(() => buildCsr({ common_name: 'x' }, KEY_PEM, 'sandbox')).code, 'invalid_csr_config');
  assert.equal(thrown(() => buildCsr({}, KEY_PEM, 'moon')).code, 'invalid_csr_config');
  assert.equal(thrown(() => verifyInvoice('not xml')).code, 'invalid_xml');
});
