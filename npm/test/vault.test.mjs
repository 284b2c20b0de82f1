// KeyVault in Node: the key exists on disk only encrypted under the passphrase; it round-trips
// through reopening and through a passphrase-encrypted backup; signing through the vault gives
// the golden bytes; the key bytes handed to WebAssembly are wiped.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import init, { KeyVault, ZatcaError, initTools, parseCsr, publicKeyOf, verifyInvoice } from '@zatca-kit/zatca';

import { signInvoiceConsumingKey } from '../lib/api.js';
import * as glue from '../dist/zatca_sign.js';
import { CERT_PEM, KEY_PEM, assertBytes, cases, chainOf, readText } from './helpers.mjs';

await init();
await initTools();

const FAST = 100_000; // the minimum; the default (600 000) is exercised once below
const dir = mkdtempSync(join(tmpdir(), 'zatca-vault-'));
const golden = cases('invoices').find((c) => c.name === 'standard-invoice');
const input = readText(join(golden.dir, 'input.json'));
const { chain, signingTime } = chainOf(golden.dir);
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

/** The SDK key's secret scalar and DER, to prove they never reach the disk. */
function sdkSecrets() {
  const b64 = KEY_PEM.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(b64, 'base64');
  const at = der.indexOf(Buffer.from([0x04, 0x20]));
  const scalar = der.subarray(at + 2, at + 34);
  return { der, scalar, forms: [b64.slice(10, 60), scalar.toString('hex'), scalar.toString('base64'), der.toString('hex')] };
}

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof ZatcaError, `not a ZatcaError: ${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

test('generate, CSR, certificate check; nothing secret on disk', async () => {
  const path = join(dir, 'generated.json');
  const vault = await KeyVault.open({ path, passphrase: 'correct horse battery staple', egsUnitId: 'egs-1' });
  assert.equal(vault.egsUnitId, 'egs-1');
  assert.equal(await vault.hasKey(), false);
  await rejectsWith(vault.signInvoice(input, chain), 'no_key');
  const publicKey = await vault.generateKey();
  assert.equal(publicKey.length, 88);
  assert.deepEqual(await vault.publicKey(), publicKey);
  await rejectsWith(vault.generateKey(), 'key_exists');
  const csr = await vault.createCsr(CSR_CONFIG, 'sandbox');
  assert.deepEqual(parseCsr(csr.pem).public_key, publicKey);
  await rejectsWith(vault.signInvoice(input, chain), 'no_certificate');
  await rejectsWith(vault.setCertificate(CERT_PEM), 'key_certificate_mismatch');
  // The sandbox hands out a fixed certificate: accepted only when asked for.
  await vault.setCertificate(CERT_PEM, { unchecked: true });
  const signed = await vault.signInvoice(input, chain, { signing_time: signingTime });
  const report = verifyInvoice(signed.xml);
  assert.deepEqual([...new Set(report.issues.map((i) => i.code))], ['invalid_signature']);

  const file = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(file.format, 'zatca-key-vault');
  assert.equal(file.kdf.name, 'PBKDF2');
  assert.equal(file.kdf.hash, 'SHA-256');
  assert.equal(file.kdf.iterations, 600_000);
  assert.equal(file.cipher.name, 'AES-GCM');
  // SEC1 DER (118 bytes) + the 16-byte GCM tag: ciphertext, not the DER.
  const ciphertext = Buffer.from(file.ciphertext, 'base64');
  assert.equal(ciphertext.length, 118 + 16);
  assert.notEqual(ciphertext[0], 0x30);
  assert.deepEqual(Object.keys(file).sort(), [
    'certificate', 'certificate_unchecked', 'cipher', 'ciphertext', 'created_at', 'egs_unit_id', 'format', 'kdf', 'public_key', 'updated_at', 'version',
  ]);
});

test('imported key: golden bytes, reopen, wrong passphrase, file holds no plaintext', async () => {
  const path = join(dir, 'imported.json');
  const vault = await KeyVault.open({ path, passphrase: 'passphrase-one', iterations: FAST });
  assert.equal(vault.egsUnitId, 'default');
  const publicKey = await vault.importPrivateKey(KEY_PEM);
  assert.deepEqual(publicKey, publicKeyOf(KEY_PEM));
  const info = await vault.setCertificate(CERT_PEM);
  assert.equal(info.subject_common_name, 'TST-886431145-399999999900003');
  assert.equal(await vault.certificate(), info.pem);
  const signed = await vault.signInvoice(input, chain, { signing_time: signingTime });
  assertBytes(signed.xml, join(golden.dir, 'expected', 'signed.xml'), 'vault-signed standard-invoice');
  const xmlSigned = await vault.signXml(readText(join(golden.dir, 'expected', 'unsigned.xml')), { signing_time: signingTime });
  assert.equal(xmlSigned.xml, signed.xml);

  const text = readFileSync(path, 'utf8');
  for (const form of sdkSecrets().forms) assert.ok(!text.includes(form), `vault file contains key material (${form.slice(0, 12)}…)`);
  assert.ok(!readFileSync(path).includes(sdkSecrets().scalar), 'vault file contains the raw scalar');

  const reopened = await KeyVault.open({ path, passphrase: 'passphrase-one' });
  assert.equal((await reopened.signInvoice(input, chain, { signing_time: signingTime })).xml, signed.xml);
  assert.equal(await reopened.check(), true);
  await rejectsWith(KeyVault.open({ path, passphrase: 'passphrase-two' }), 'wrong_passphrase');
  await rejectsWith(KeyVault.open({ path, passphrase: 'passphrase-one', egsUnitId: 'other' }), 'invalid_argument');

  // Tampering with the sealed key is detected (AES-GCM), never silently accepted.
  const file = JSON.parse(text);
  const c = Buffer.from(file.ciphertext, 'base64');
  c[5] ^= 1;
  writeFileSync(join(dir, 'tampered.json'), JSON.stringify({ ...file, ciphertext: c.toString('base64') }));
  await rejectsWith(KeyVault.open({ path: join(dir, 'tampered.json'), passphrase: 'passphrase-one' }), 'wrong_passphrase');
});

test('passphrase-protected backup round trip', async () => {
  const source = await KeyVault.open({ path: join(dir, 'backup-source.json'), passphrase: 'source passphrase', iterations: FAST });
  await source.importPrivateKey(Buffer.from(KEY_PEM));
  await source.setCertificate(CERT_PEM);
  await rejectsWith(source.exportBackup('short'), 'weak_passphrase');
  const backup = JSON.parse(JSON.stringify(await source.exportBackup('backup passphrase', { iterations: FAST })));
  assert.equal(backup.format, 'zatca-key-backup');
  assert.equal(backup.kdf.iterations, FAST);
  for (const form of sdkSecrets().forms) assert.ok(!JSON.stringify(backup).includes(form));
  const defaultBackup = await source.exportBackup('backup passphrase');
  assert.equal(defaultBackup.kdf.iterations, 600_000);

  const target = await KeyVault.open({ path: join(dir, 'backup-target.json'), passphrase: 'target passphrase', iterations: FAST });
  await rejectsWith(target.importBackup(backup, 'not the passphrase'), 'wrong_passphrase');
  await rejectsWith(target.importBackup({ ...backup, format: 'x' }, 'backup passphrase'), 'invalid_backup');
  const altered = { ...backup, ciphertext: Buffer.from(Buffer.from(backup.ciphertext, 'base64').map((b, i) => (i === 3 ? b ^ 1 : b))).toString('base64') };
  await rejectsWith(target.importBackup(altered, 'backup passphrase'), 'wrong_passphrase');
  assert.equal(await target.hasKey(), false);
  const publicKey = await target.importBackup(backup, 'backup passphrase');
  assert.deepEqual(publicKey, await source.publicKey());
  assert.equal(await target.certificate(), await source.certificate());
  const a = await source.signInvoice(input, chain, { signing_time: signingTime });
  const b = await target.signInvoice(input, chain, { signing_time: signingTime });
  assert.equal(a.xml, b.xml);
  await rejectsWith(target.importBackup(backup, 'backup passphrase'), 'key_exists');
  await target.importBackup(defaultBackup, 'backup passphrase', { overwrite: true });
  await target.deleteKey();
  assert.equal(await target.hasKey(), false);
});

test('a new vault needs a real passphrase', async () => {
  await rejectsWith(KeyVault.open({ path: join(dir, 'weak.json'), passphrase: '1234' }), 'weak_passphrase');
  await rejectsWith(KeyVault.open({ path: join(dir, 'weak.json'), passphrase: 'long enough', iterations: 10 }), 'invalid_argument');
  await rejectsWith(KeyVault.open({ passphrase: 'long enough' }), 'invalid_argument');
});

test('key bytes handed to WebAssembly are wiped, by the Rust side itself', () => {
  const key = new TextEncoder().encode(KEY_PEM);
  // The raw export (no JavaScript wrapper): WebAssembly overwrites the array before returning.
  const signed = glue.signInvoice(input, chain, key, CERT_PEM, { signing_time: signingTime });
  assert.ok(signed.hash);
  assert.ok(key.every((b) => b === 0), 'the raw export left key bytes in the caller array');
  // Also when the call fails.
  const key2 = new TextEncoder().encode(KEY_PEM);
  assert.throws(() => glue.signInvoice('{', chain, key2, CERT_PEM, undefined));
  assert.ok(key2.every((b) => b === 0));
  const key3 = new TextEncoder().encode(KEY_PEM);
  assert.throws(() => signInvoiceConsumingKey(input, chain, key3, 'not a certificate'));
  assert.ok(key3.every((b) => b === 0));
});
