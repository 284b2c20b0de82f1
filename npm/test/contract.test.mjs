// Drift checks between the hand-written declarations (index.d.ts) and the sources they
// describe: the ZatcaErrorCode union must hold the JavaScript layer's codes (the core's and the
// bindings' are checked from Rust, against the core's enum), and the input interfaces must name
// exactly the fields the core's JSON decoder reads (wasm/core/src/model.rs).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { JS_ERROR_CODES } from '../lib/error.js';
import { NPM_DIR, REPO } from './helpers.mjs';

const dts = readFileSync(join(NPM_DIR, 'index.d.ts'), 'utf8');

function rustSources(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.rs'))
    .map((f) => ({ file: f, text: readFileSync(join(dir, f), 'utf8').replace(/#\[cfg\(test\)\]\s*mod tests[\s\S]*$/, '') }));
}

function declaredUnion() {
  const m = dts.match(/export type ZatcaErrorCode =([\s\S]*?);/);
  assert.ok(m, 'index.d.ts declares ZatcaErrorCode');
  return [...m[1].matchAll(/"([a-z0-9_]+)"/g)].map((x) => x[1]);
}

function jsSources() {
  const files = ['index.js', 'node.js', ...readdirSync(join(NPM_DIR, 'lib')).map((f) => join('lib', f))];
  return files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(NPM_DIR, f), 'utf8'));
}

// The core's codes are the `zatca_core::Code` enum and the bindings' are BINDING_CODES: the
// Rust test `typescript_union_lists_every_error_code` (wasm/bindings/src/error.rs) checks that
// the union is exactly those and JS_ERROR_CODES. Here: the JavaScript layer's side.
test('ZatcaErrorCode declares every JavaScript code, sorted', () => {
  for (const text of jsSources()) {
    for (const m of text.matchAll(/new ZatcaError\(\s*'([a-z0-9_]+)'/g)) {
      assert.ok(JS_ERROR_CODES.includes(m[1]), `lib raises "${m[1]}", missing from JS_ERROR_CODES`);
    }
    for (const m of text.matchAll(/ErrorCode = '([a-z0-9_]+)'/g)) {
      assert.ok(JS_ERROR_CODES.includes(m[1]), `lib raises "${m[1]}", missing from JS_ERROR_CODES`);
    }
  }
  const declared = declaredUnion();
  assert.deepEqual(declared, [...declared].sort(), 'keep ZatcaErrorCode sorted');
  const missing = JS_ERROR_CODES.filter((c) => !declared.includes(c));
  assert.deepEqual(missing, [], 'update ZatcaErrorCode in index.d.ts');
});

function interfaceMembers(name) {
  const m = dts.match(new RegExp(`export interface ${name}(?: extends [^{]+)? \\{([\\s\\S]*?)\\n\\}`));
  assert.ok(m, `index.d.ts declares ${name}`);
  return [...m[1].matchAll(/^ {2}(?:readonly )?([a-z_0-9]+)\??:/gm)].map((x) => x[1]);
}

test('input interfaces name exactly the fields of the JSON contract', () => {
  const model = rustSources(join(REPO, 'wasm', 'core', 'src')).find((s) => s.file === 'model.rs').text;
  const read = new Set([...model.matchAll(/\.(?:string|required_string|decimal|required_decimal|boolean|choice|get)\(\s*"([a-z0-9_]+)"/g)].map((m) => m[1]));
  assert.ok(read.has('invoice_number') && read.has('unit_price') && read.has('b2g'), 'extraction finds model fields');
  const declared = new Set(
    ['InvoiceInput', 'Party', 'PartyId', 'Address', 'LineItem', 'TransactionFlags'].flatMap(interfaceMembers),
  );
  const missing = [...read].filter((k) => !declared.has(k)).sort();
  const extra = [...declared].filter((k) => !read.has(k)).sort();
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, 'update the input interfaces in index.d.ts');
});

test('CsrConfig and QrFields declare the core fields', () => {
  const csr = rustSources(join(REPO, 'wasm', 'core', 'src')).find((s) => s.file === 'csr.rs').text;
  const struct = csr.match(/pub struct CsrConfig \{([\s\S]*?)\n\}/)[1];
  const fields = [...struct.matchAll(/pub ([a-z_]+):/g)].map((m) => m[1]).sort();
  assert.deepEqual(interfaceMembers('CsrConfig').sort(), fields);
  const qr = rustSources(join(REPO, 'wasm', 'core', 'src')).find((s) => s.file === 'qr.rs').text;
  const qrStruct = qr.match(/pub struct QrFields \{([\s\S]*?)\n\}/)[1];
  assert.deepEqual(interfaceMembers('QrFields').sort(), [...qrStruct.matchAll(/pub ([a-z_]+):/g)].map((m) => m[1]).sort());
});

test('index.d.ts declares exactly what both entry points export', async () => {
  const declared = new Set([...dts.matchAll(/^export (?:function|class|const) ([A-Za-z_]+)/gm)].map((m) => m[1]));
  if (/^export default /m.test(dts)) declared.add('default');
  const browser = Object.keys(await import('../index.js')).sort();
  const node = Object.keys(await import('../node.js')).sort();
  assert.deepEqual(browser, node, 'index.js and node.js export the same names');
  assert.deepEqual(node, [...declared].sort());
});
