// Calling before init() fails with `not_initialized` (its own process: node --test runs each
// file separately, so the modules are not loaded yet here).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

import { ZatcaError, buildInvoice, init, initTools, qrSvg, version } from '@zatca-kit/zatca';

import { NPM_DIR } from './helpers.mjs';

test('functions fail with not_initialized before init()', async () => {
  assert.throws(() => version(), (e) => e instanceof ZatcaError && e.code === 'not_initialized' && /await init\(\)/.test(e.message));
  assert.throws(() => buildInvoice({}, { icv: 1, pih: '', uuid: '' }), { code: 'not_initialized' });
  await init();
  assert.match(version(), /^\d/);
  assert.throws(() => qrSvg('AQA='), (e) => e.code === 'not_initialized' && /initTools/.test(e.message));
  await initTools();
  assert.match(qrSvg('AQA='), /<svg/);
});

test('a bad module source is a ZatcaError wasm_load_failed', () => {
  const script = `
    import { init } from '@zatca-kit/zatca';
    try { await init({ module: new Uint8Array([1, 2, 3]) }); console.log('loaded'); }
    catch (e) { console.log(e.name, e.code); }`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: NPM_DIR, encoding: 'utf8' });
  assert.equal(out.trim(), 'ZatcaError wasm_load_failed');
});
