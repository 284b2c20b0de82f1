// The size budgets of the modules a page loads up front (README: signing ≤ 400 KiB raw and
// ≤ 150 KiB gzip -9; validation ≤ 600 KiB raw and ≤ 230 KiB gzip -9), checked on every build: a
// change that pulls Rust's number formatting or a new dependency into the signing path, or grows
// the validation tables, shows here, not months later in a bundle.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { NPM_DIR } from './helpers.mjs';

const BUDGETS = {
  sign: { name: 'signing', raw: 400 * 1024, gzip: 150 * 1024 },
  rules: { name: 'validation', raw: 600 * 1024, gzip: 230 * 1024 },
};

for (const [module, budget] of Object.entries(BUDGETS)) {
  test(`the ${budget.name} module stays within its budget`, () => {
    const sizes = JSON.parse(readFileSync(join(NPM_DIR, 'dist', 'sizes.json'), 'utf8'))[module];
    const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
    assert.ok(sizes.raw <= budget.raw, `${budget.name} module ${kib(sizes.raw)} raw > ${kib(budget.raw)}`);
    assert.ok(sizes.gzip <= budget.gzip, `${budget.name} module ${kib(sizes.gzip)} gzip > ${kib(budget.gzip)}`);
  });
}
