// The validation module: loaded on its own by initRules() (not by init()); validate() gives the
// native validator's report (zatca-rules: the UBL 2.1 structure `XSD` and ZATCA's rules).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { ZatcaError, initRules, validate, validateInput } from '@zatca-kit/zatca';

import { FIXTURES, readText } from './helpers.mjs';

const SAMPLE = join(FIXTURES, 'samples', 'sdk-R3.4.8', 'Standard', 'Invoice', 'Standard_Invoice.xml');
const INITIAL_PIH = 'NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ==';

test('validate needs initRules()', async () => {
  assert.throws(() => validate('<Invoice/>'), (e) => e instanceof ZatcaError && e.code === 'not_initialized' && /initRules/.test(e.message));
  await initRules();
  await initRules();
});

test("the SDK's standard invoice is valid, as a string and as bytes", async () => {
  await initRules();
  const xml = readText(SAMPLE);
  const report = validate(xml);
  assert.deepEqual(report, { valid: true, issues: [] });
  assert.deepEqual(validate(new TextEncoder().encode(xml)), report);
  assert.deepEqual(validate(xml, { pih: INITIAL_PIH }), report);
});

test('schema and rule violations are findings with id, location and both messages', async () => {
  await initRules();
  const xml = readText(SAMPLE)
    .replace('<cbc:IssueDate>2022-09-07</cbc:IssueDate>\n    <cbc:IssueTime>12:21:28</cbc:IssueTime>', '<cbc:IssueTime>12:21:28</cbc:IssueTime>\n    <cbc:IssueDate>2022-09-07</cbc:IssueDate>')
    .replace('reporting:1.0', 'reporting:2.0');
  const report = validate(xml);
  assert.equal(report.valid, false);
  const xsd = report.issues[0];
  const rule = report.issues.find((i) => i.rule === 'BR-KSA-EN16931-01');
  assert.equal(xsd.rule, 'XSD');
  assert.equal(report.issues.filter((i) => i.rule === 'XSD').length, 1);
  assert.deepEqual(Object.keys(xsd), ['rule', 'severity', 'location', 'message', 'message_ar', 'hint', 'detail']);
  assert.equal(xsd.severity, 'error');
  assert.equal(xsd.location, '/Invoice/cbc:IssueDate');
  assert.match(xsd.message, /out of the order/);
  assert.match(xsd.detail, /cbc:IssueDate must come before cbc:IssueTime/);
  assert.ok(xsd.message_ar.length > 0);
  assert.equal(rule.location, '/Invoice/cbc:ProfileID');
  assert.equal(rule.detail, 'reporting:2.0');
  assert.equal(typeof rule.hint, 'string');
});

test('another previous invoice hash is PIH; unreadable input is XML; bad options throw', async () => {
  await initRules();
  const pih = validate(readText(SAMPLE), { pih: 'AAAA' });
  assert.deepEqual(pih.issues.map((i) => i.rule), ['PIH']);
  const garbage = validate(new Uint8Array([0xff, 0xfe, 0x00]));
  assert.equal(garbage.valid, false);
  assert.deepEqual(garbage.issues.map((i) => [i.rule, i.location]), [['XML', '/']]);
  assert.throws(() => validate(readText(SAMPLE), { pih: 12 }), { code: 'invalid_argument' });
  assert.throws(() => validate(readText(SAMPLE), { now: '2025-01-01' }), { code: 'invalid_argument' });
  assert.throws(() => validate(42), { code: 'invalid_argument' });
});

test('given the current time, the time-dependent rules are checked', async () => {
  await initRules();
  const xml = readText(SAMPLE);
  // Issued 2022-09-07: today is fine; a day before the issue date is BR-KSA-04.
  assert.equal(validate(xml, { now: '2026-01-01T00:00:00' }).valid, true);
  const early = validate(xml, { now: '2022-09-06T00:00:00' });
  assert.ok(early.issues.some((i) => i.rule === 'BR-KSA-04'), JSON.stringify(early.issues));
});

test('unsigned: a document about to be signed is not asked for its stamp and QR code', async () => {
  await initRules();
  const xml = readText(join(FIXTURES, 'invoices', 'simplified-invoice', 'expected', 'unsigned.xml'));
  const rules = (options) => validate(xml, options).issues.map((i) => i.rule).sort();
  assert.deepEqual(rules({}), ['BR-KSA-27', 'BR-KSA-60']);
  assert.deepEqual(rules({ unsigned: true }), []);
  assert.throws(() => validate(xml, { unsigned: 'yes' }), { code: 'invalid_argument' });
});

test('validateInput: a request is checked by the core and by the rules on the XML it produces', async () => {
  await initRules();
  const input = JSON.parse(readText(join(FIXTURES, 'invoices', 'standard-invoice', 'input.json')));
  const ok = validateInput(input, { now: '2026-01-01T00:00:00' });
  assert.equal(ok.valid, true, JSON.stringify(ok.issues));
  assert.equal(ok.checkedXml, true);
  assert.deepEqual(validateInput(JSON.stringify(input), { now: '2026-01-01T00:00:00' }), ok);
  const broken = structuredClone(input);
  broken.seller.vat_number = '123';
  broken.invoice_date = '2099-01-01';
  const report = validateInput(broken, { now: '2026-01-01T00:00:00' });
  assert.equal(report.valid, false);
  const vat = report.issues.find((i) => i.rule === 'BR-KSA-40');
  assert.deepEqual([vat.location, vat.source, vat.code], ['seller.vat_number', 'input', 'invalid_vat_number']);
  assert.ok(vat.message_ar.length > 0);
  const date = report.issues.find((i) => i.rule === 'BR-KSA-04');
  assert.deepEqual([date.location, date.source, date.severity], ['invoice_date', 'xml', 'error']);
  assert.deepEqual(Object.keys(date), ['rule', 'code', 'severity', 'location', 'message', 'message_ar', 'hint', 'detail', 'source']);
  const undecodable = validateInput({ invoice_number: 1 });
  assert.equal(undecodable.valid, false);
  assert.equal(undecodable.checkedXml, false);
  assert.equal(validateInput('{').issues[0].code, 'invalid_json');
  assert.throws(() => validateInput(42), { code: 'invalid_argument' });
  assert.throws(() => validateInput(input, { now: 'today' }), { code: 'invalid_argument' });
});
