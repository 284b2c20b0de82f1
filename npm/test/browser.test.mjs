// A real browser: Debian's Chromium driven by Playwright (playwright-core, no downloaded
// browser) loads test/browser/index.html from a local server, generates a key in the vault,
// signs invoices, checks that IndexedDB holds only ciphertext under a non-extractable
// CryptoKey, and that two tabs signing at once never share an ICV.
//
// Chromium comes from `apt-get install chromium` (tried here when missing and running as root
// or with passwordless sudo); without it the test is skipped with a message saying so.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { CHROMIUM, chromiumSkip } from './chromium.mjs';
import { NPM_DIR } from './helpers.mjs';
import { startServer } from './server.mjs';

const skip = chromiumSkip();

let server;
let context;
let userDataDir;

before(async () => {
  if (skip) return;
  const { chromium } = await import('playwright-core');
  server = await startServer(0);
  userDataDir = mkdtempSync(join(tmpdir(), 'zatca-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

async function openTab() {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/test/browser/index.html`);
  await page.waitForFunction(() => window.zatcaReady !== undefined, null, { timeout: 30_000 });
  const ready = await page.evaluate(() => window.zatcaReady);
  assert.match(ready, /^\d+\.\d+\.\d+/, `page failed to load: ${ready}; ${errors.join('; ')}`);
  return page;
}

test('browser: generate a key, sign, ciphertext-only storage, non-extractable wrapping key', { skip, timeout: 120_000 }, async () => {
  const page = await openTab();
  const r = await page.evaluate(() => window.zatcaTest.generateAndSign());
  assert.equal(r.publicKeyLength, 88);
  assert.equal(r.csrMatches, true);
  assert.match(r.signedHash, /^[A-Za-z0-9+/]{43}=$/);
  // Signed with a key the sandbox certificate was not issued for: only the signature check fails.
  assert.deepEqual(r.verifyIssues, ['invalid_signature']);
  assert.deepEqual(r.wrappingKey, {
    isCryptoKey: true,
    extractable: false,
    algorithm: 'AES-GCM',
    length: 256,
    usages: ['decrypt', 'encrypt'],
    exportError: 'InvalidAccessError',
  });
  assert.equal(r.sealed.ivLength, 12);
  assert.equal(r.sealed.ciphertextLength, 118 + 16);
  assert.equal(r.sealed.startsLikeDer, false);
  assert.deepEqual(r.recordKeys, [
    'certificate', 'certificate_unchecked', 'created_at', 'egs_unit_id', 'public_key', 'sealed_key', 'updated_at', 'wrapping_key',
  ]);

  const golden = await page.evaluate(() => window.zatcaTest.importAndSignGolden('standard-invoice-mixed-categories'));
  assert.deepEqual(golden.identical, true, 'browser WebAssembly output differs from the native golden bytes');
  assert.equal(golden.leaks, false, 'IndexedDB holds the plaintext key');
  assert.equal(golden.backupRoundTrip, true);
  mkdirSync(join(NPM_DIR, 'test-results'), { recursive: true });
  await page.screenshot({ path: join(NPM_DIR, 'test-results', 'browser-vault.png'), fullPage: true });
  await page.close();
});

test('browser: two tabs signing at once get distinct consecutive ICVs; the chain survives a reload', { skip, timeout: 120_000 }, async () => {
  const [a, b] = [await openTab(), await openTab()];
  // The vault of unit pos-sdk (SDK key + certificate) exists from the first test.
  const [fromA, fromB] = await Promise.all([
    a.evaluate(() => window.zatcaTest.signMany('pos-two-tabs', 12)),
    b.evaluate(() => window.zatcaTest.signMany('pos-two-tabs', 12)),
  ]);
  const all = [...fromA, ...fromB].sort((x, y) => x - y);
  console.log(`# tab A got ICVs ${fromA.join(',')}; tab B got ${fromB.join(',')}`);
  assert.deepEqual(all, Array.from({ length: 24 }, (_, i) => i + 1), `tab A ${fromA}, tab B ${fromB}`);
  const chain = await a.evaluate(() => window.zatcaTest.checkChain('pos-two-tabs'));
  assert.equal(chain.broken, 0);
  assert.deepEqual(chain.icvs, all);

  await b.reload();
  await b.waitForFunction(() => window.zatcaReady !== undefined);
  assert.deepEqual(await b.evaluate(() => window.zatcaTest.signMany('pos-two-tabs', 1)), [25]);
  const afterReload = await b.evaluate(() => window.zatcaTest.checkChain('pos-two-tabs'));
  assert.equal(afterReload.state.icv, 25);
  assert.equal(afterReload.broken, 0);

  await a.screenshot({ path: join(NPM_DIR, 'test-results', 'browser-two-tabs.png'), fullPage: true });
  await a.close();
  await b.close();
});

test('browser: validate() loads its own module and reports what ZATCA would', { skip, timeout: 120_000 }, async () => {
  const page = await openTab();
  const r = await page.evaluate(() => window.zatcaTest.validateSample());
  assert.deepEqual(r.good, { valid: true, issues: [] });
  assert.deepEqual(r.bad[0], ['XSD', '/Invoice/cac:AllowanceCharge/cbc:ChargeIndicator']);
  await page.close();
});
