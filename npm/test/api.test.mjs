// The package API imported by name, as users import it: every function once, with the shapes
// index.d.ts declares.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import init, * as zatca from '@zatca-kit/zatca';

import { CERT_PEM, FIXTURES, KEY_PEM, cases, chainOf, readText } from './helpers.mjs';

const {
  INITIAL_PIH,
  buildCsr,
  buildInvoice,
  certificateInfo,
  csrConfigFromProperties,
  embeddedQr,
  initTools,
  invoiceHash,
  isValidPih,
  nextPih,
  parseCsr,
  publicKeyOf,
  qrDecode,
  qrDecodeTlv,
  qrDescribe,
  qrEncode,
  qrPng,
  qrSvg,
  signInvoice,
  signXml,
  stripSignature,
  verifyInvoice,
  version,
} = zatca;

await init();
await init(); // idempotent
await initTools();

const simplified = cases('invoices').find((c) => c.name === 'simplified-invoice');
const input = readText(join(simplified.dir, 'input.json'));
const { chain, signingTime } = chainOf(simplified.dir);
const signer = { key: KEY_PEM, certificate: CERT_PEM };
const signed = signInvoice(input, chain, signer, { signing_time: signingTime });

const CSR_CONFIG = {
  common_name: 'TST-886431145-399999999900003',
  serial_number: '1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f',
  organization_identifier: '399999999900003',
  organization_unit: 'Riyadh Branch',
  organization_name: 'Maximum Speed Tech Supply LTD',
  country: 'SA',
  invoice_type: '1100',
  location_address: 'RRRD2929',
  industry_business_category: 'Supply activities',
};

test('the package exports exactly the documented API (no plaintext key generation)', () => {
  const names = Object.keys(zatca).sort();
  assert.deepEqual(names, [
    'ChainAllocator', 'INITIAL_PIH', 'KeyVault', 'NEAR_DEADLINE_MS', 'Outbox', 'REPORTING_WINDOW_MS', 'RelayClient',
    'RelayError', 'ZatcaError', 'buildCsr', 'buildInvoice', 'certificateInfo', 'csrConfigFromProperties', 'default',
    'embeddedQr', 'init', 'initPdf', 'initRules', 'initTools', 'invoiceHash', 'isRelayError', 'isValidPih', 'isZatcaError', 'nextPih', 'parseCsr', 'publicKeyOf', 'qrDecode', 'qrDecodeTlv', 'qrDescribe', 'qrEncode', 'qrPng',
    'qrSvg', 'renderPdf', 'signInvoice', 'signXml', 'stripSignature', 'validate', 'validateInput', 'verifyInvoice', 'version',
  ]);
});

test('version names the crate version', () => {
  assert.match(version(), /^\d+\.\d+\.\d+(\+[0-9a-f]+)?$/);
});

test('build returns xml, warnings and exact decimal totals', () => {
  const built = buildInvoice(JSON.parse(input), chain);
  assert.ok(built.xml.startsWith('<?xml'));
  assert.deepEqual(built.warnings, []);
  assert.equal(built.totals.tax_inclusive, '231.15');
  assert.equal(built.totals.vat_total, '30.15');
  assert.equal(built.totals.lines.length, 2);
  assert.deepEqual(Object.keys(built.totals.subtotals[0]).sort(), ['category', 'exemption_code', 'exemption_reason', 'rate', 'taxable', 'vat']);
  assert.equal(built.totals.subtotals[0].category, 'S');
});

test('warnings come back with the signed document', () => {
  const c = cases('errors').find((x) => x.name === 'bad-vat-and-dates');
  assert.ok(c);
  const withWarnings = JSON.parse(input);
  delete withWarnings.seller.crn;
  const s = signInvoice(withWarnings, chain, signer, { signing_time: signingTime });
  assert.ok(s.warnings.some((w) => w.code === 'missing_seller_id' && w.severity === 'warning' && w.rule === 'BR-KSA-08'));
});

test('signInvoice does not modify the caller key bytes', () => {
  const keyBytes = new TextEncoder().encode(KEY_PEM);
  const copy = keyBytes.slice();
  signInvoice(input, chain, { key: keyBytes, certificate: CERT_PEM }, { signing_time: signingTime });
  assert.deepEqual(keyBytes, copy);
});

test('signXml signs unsigned XML given as bytes', () => {
  const unsigned = readText(join(simplified.dir, 'expected', 'unsigned.xml'));
  const again = signXml(new TextEncoder().encode(unsigned), signer, { signing_time: signingTime });
  assert.equal(again.xml, signed.xml);
  assert.deepEqual(again.warnings, []);
});

test('hash, strip and chain helpers', () => {
  assert.equal(invoiceHash(signed.xml), signed.hash);
  assert.equal(invoiceHash(stripSignature(signed.xml)), signed.hash);
  assert.equal(nextPih(signed.xml), signed.hash);
  assert.ok(isValidPih(INITIAL_PIH));
  assert.ok(isValidPih(signed.hash));
  assert.ok(!isValidPih('abc'));
  assert.ok(!isValidPih(undefined));
});

test('INITIAL_PIH is base64 of the hex SHA-256 of "0"', async () => {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('0')));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
  assert.equal(INITIAL_PIH, btoa(hex));
});

test('verification report', () => {
  const report = verifyInvoice(signed.xml, { expectedPih: chain.pih });
  assert.equal(report.ok, true);
  assert.equal(report.icv, chain.icv);
  assert.equal(report.pih, chain.pih);
  assert.equal(report.uuid, chain.uuid);
  assert.equal(report.is_simplified, true);
  assert.equal(report.invoice_type_code, '388');
  assert.equal(report.seller_vat, '399999999900003');
  assert.equal(report.certificate.serial_decimal, certificateInfo(CERT_PEM).serial_decimal);
  const wrong = verifyInvoice(signed.xml, { expectedPih: signed.hash });
  assert.equal(wrong.ok, false);
  assert.deepEqual(wrong.issues.map((i) => [i.code, i.rule]), [['pih_mismatch', 'BR-KSA-26']]);
  const tampered = verifyInvoice(signed.xml.replace('<cbc:ID>INV-0001</cbc:ID>', '<cbc:ID>INV-0002</cbc:ID>'));
  assert.ok(tampered.issues.some((i) => i.code === 'invoice_hash_mismatch'), JSON.stringify(tampered.issues));
});

test('QR decode, describe, encode, SVG and PNG', () => {
  assert.equal(embeddedQr(signed.xml), signed.qr);
  const fields = qrDecode(signed.qr);
  assert.equal(fields.vat_number, '399999999900003');
  assert.equal(fields.invoice_hash, signed.hash);
  assert.equal(fields.signature, signed.signature);
  assert.equal(typeof fields.public_key, 'string');
  assert.equal(qrEncode(fields), signed.qr);
  const tlv = qrDecodeTlv(signed.qr);
  assert.deepEqual(tlv.map((t) => t.tag), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(tlv[7].value instanceof Uint8Array);
  assert.equal(tlv[7].text, null);
  assert.equal(tlv[1].text, '399999999900003');
  assert.equal(tlv[1].name, 'vat_number');
  assert.equal(qrDescribe(signed.qr).split('\n')[1], '2 vat_number: 399999999900003');
  const svg = qrSvg(signed.qr);
  assert.match(svg, /^<\?xml[\s\S]*<svg [\s\S]*<\/svg>\n$/);
  const png = qrPng(signed.qr);
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  assert.ok(qrPng(signed.qr, 2).length < png.length);
  const phase1 = qrEncode({ seller_name: 'Acme', vat_number: '300000000000003', timestamp: '2025-01-15T10:00:00', total_with_vat: '115.00', vat_total: '15.00' });
  assert.equal(qrDecode(phase1).invoice_hash, undefined);
});

test('certificate info', () => {
  const info = certificateInfo(CERT_PEM);
  assert.equal(info.subject_common_name, 'TST-886431145-399999999900003');
  assert.match(info.issuer_name, /^CN=/);
  assert.equal(info.san.organization_identifier, '399999999900003');
  assert.ok(info.public_key instanceof Uint8Array && info.public_key.length === 88);
  assert.ok(info.signature instanceof Uint8Array);
  assert.ok(info.not_after > info.not_before);
  assert.equal(certificateInfo(info.binary_security_token).base64, info.base64);
  assert.equal(certificateInfo(info.base64).pem, info.pem);
  assert.deepEqual(publicKeyOf(KEY_PEM), info.public_key);
});

test('CSR build and parse', () => {
  const csr = buildCsr(CSR_CONFIG, KEY_PEM, 'simulation');
  assert.match(csr.pem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
  assert.ok(csr.der instanceof Uint8Array);
  assert.equal(atob(csr.api_base64), csr.pem);
  for (const form of [csr.pem, csr.der, csr.api_base64]) {
    const parsed = parseCsr(form);
    assert.deepEqual(parsed.config, CSR_CONFIG);
    assert.equal(parsed.environment, 'simulation');
    assert.equal(parsed.template_name, 'PREZATCA-Code-Signing');
    assert.deepEqual(parsed.public_key, publicKeyOf(KEY_PEM));
  }
  // Deterministic (RFC 6979): same inputs, same bytes.
  assert.equal(buildCsr(CSR_CONFIG, KEY_PEM, 'simulation').pem, csr.pem);
  const properties = Object.entries({
    'csr.common.name': CSR_CONFIG.common_name,
    'csr.serial.number': CSR_CONFIG.serial_number,
    'csr.organization.identifier': CSR_CONFIG.organization_identifier,
    'csr.organization.unit.name': CSR_CONFIG.organization_unit,
    'csr.organization.name': CSR_CONFIG.organization_name,
    'csr.country.name': CSR_CONFIG.country,
    'csr.invoice.type': CSR_CONFIG.invoice_type,
    'csr.location.address': CSR_CONFIG.location_address,
    'csr.industry.business.category': CSR_CONFIG.industry_business_category,
  }).map(([k, v]) => `${k}=${v}`).join('\n');
  assert.deepEqual(csrConfigFromProperties(properties), CSR_CONFIG);
});

test('fixtures directory is the repository one', () => {
  assert.ok(FIXTURES.endsWith(join('tests', 'fixtures')));
});
