// Shared test helpers: fixture locations and byte comparison with a readable first difference.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NPM_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = join(NPM_DIR, '..');
export const FIXTURES = join(REPO, 'tests', 'fixtures');
export const KEY_PEM = readFileSync(join(FIXTURES, 'keys', 'sdk-test-key.pem'), 'utf8');
export const CERT_PEM = readFileSync(join(FIXTURES, 'keys', 'sdk-test-cert.pem'), 'utf8');

/** Sorted case directories under tests/fixtures/<kind>. */
export function cases(kind) {
  const dir = join(FIXTURES, kind);
  return readdirSync(dir)
    .filter((n) => statSync(join(dir, n)).isDirectory())
    .sort()
    .map((name) => ({ name, dir: join(dir, name) }));
}

export function read(path) {
  return readFileSync(path);
}

export function readText(path) {
  return readFileSync(path, 'utf8');
}

const encoder = new TextEncoder();

/** Asserts byte equality; on mismatch reports the first differing offset and line. */
export function assertBytes(actual, expectedPath, label) {
  const a = typeof actual === 'string' ? encoder.encode(actual) : actual;
  const e = readFileSync(expectedPath);
  if (Buffer.compare(Buffer.from(a), e) === 0) return;
  let i = 0;
  while (i < a.length && i < e.length && a[i] === e[i]) i++;
  const line = e.subarray(0, i).toString('utf8').split('\n').length;
  const show = (b) => Buffer.from(b).toString('utf8').split('\n')[line - 1]?.slice(0, 160);
  assert.fail(
    `${label}: differs from ${expectedPath} at byte ${i} (line ${line}; ${a.length} vs ${e.length} bytes)\n` +
      `  expected: ${show(e)}\n  actual:   ${show(a)}`,
  );
}

export function chainOf(caseDir) {
  const c = JSON.parse(readText(join(caseDir, 'chain.json')));
  return { chain: { icv: c.icv, pih: c.pih, uuid: c.uuid }, signingTime: c.signing_time };
}
