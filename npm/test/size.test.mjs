// The signing module's size budget (README: ≤ 400 KiB raw, ≤ 150 KiB gzip -9), checked on every
// build: a change that pulls Rust's number formatting or a new dependency into the signing path
// shows here, not months later in a bundle.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { NPM_DIR } from './helpers.mjs';

const BUDGET = { raw: 400 * 1024, gzip: 150 * 1024 };

test('the signing module stays within its budget', () => {
  const sizes = JSON.parse(readFileSync(join(NPM_DIR, 'dist', 'sizes.json'), 'utf8'));
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  assert.ok(sizes.sign.raw <= BUDGET.raw, `signing module ${kib(sizes.sign.raw)} raw > ${kib(BUDGET.raw)}`);
  assert.ok(sizes.sign.gzip <= BUDGET.gzip, `signing module ${kib(sizes.sign.gzip)} gzip > ${kib(BUDGET.gzip)}`);
});
