// `npm run bench`: signing time through WebAssembly in Node against the native core, for the
// same golden-corpus documents and the same steps (decode the JSON, parse the key and the
// certificate, build, sign). Native numbers come from wasm/bindings/examples/native_sign.rs
// (cargo --release); WebAssembly numbers from the package's signInvoice. Also prints the module
// sizes from dist/sizes.json against the budgets.
//
// Each case runs ROUNDS times, native and WebAssembly alternating, and keeps the lowest median of
// each: on a shared machine that is the least disturbed measurement of both.
//
// Options: BENCH_N (iterations per round, default 300), BENCH_ROUNDS (default 3),
// BENCH_CASES (comma-separated case names).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import init, { signInvoice, version } from '../node.js';
import { CERT_PEM, FIXTURES, KEY_PEM, NPM_DIR, REPO, chainOf } from '../test/helpers.mjs';

const N = Number(process.env.BENCH_N ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CASES = (process.env.BENCH_CASES ?? 'simplified-invoice,standard-invoice,standard-invoice-200-lines').split(',');
const BUDGET = { raw: 400 * 1024, gzip: 150 * 1024, ratio: 4 };
const keyPath = join(FIXTURES, 'keys', 'sdk-test-key.pem');
const certPath = join(FIXTURES, 'keys', 'sdk-test-cert.pem');

function percentile(sorted, p) {
  return sorted[Math.round((sorted.length - 1) * p)];
}

function native(caseDir) {
  const env = { ...process.env, CARGO_TARGET_DIR: process.env.ZATCA_NPM_NATIVE_TARGET_DIR ?? join(process.env.HOME, '.cache', 'zatca', 'target-npm') };
  const out = execFileSync(
    'cargo',
    ['run', '--quiet', '--release', '-p', 'zatca-wasm', '--example', 'native_sign', '--', caseDir, keyPath, certPath, String(N)],
    { cwd: REPO, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

function wasm(caseDir) {
  const input = readFileSync(join(caseDir, 'input.json'), 'utf8');
  const { chain, signingTime } = chainOf(caseDir);
  // The key as the vault hands it over: DER bytes (decrypted), copied per call.
  const der = Uint8Array.from(atob(KEY_PEM.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  const signer = { key: der, certificate: CERT_PEM };
  const once = () => signInvoice(input, chain, signer, { signing_time: signingTime });
  const hash = once().hash;
  for (let i = 0; i < Math.min(N, 50); i++) once();
  const times = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    once();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { n: N, median_ms: percentile(times, 0.5), p10_ms: percentile(times, 0.1), p90_ms: percentile(times, 0.9), hash };
}

await init();
console.log(`zatca-wasm ${version()}, Node ${process.version}, ${N} iterations x ${ROUNDS} rounds per case (best median)\n`);
console.log('case                              native median   wasm median   ratio   (p10..p90 wasm)');
const results = [];
for (const name of CASES) {
  const dir = join(FIXTURES, 'invoices', name);
  let n = null;
  let w = null;
  for (let round = 0; round < ROUNDS; round++) {
    const nr = native(dir);
    const wr = wasm(dir);
    if (nr.hash !== wr.hash) throw new Error(`${name}: native and WebAssembly hashes differ`);
    if (!n || nr.median_ms < n.median_ms) n = nr;
    if (!w || wr.median_ms < w.median_ms) w = wr;
  }
  const ratio = w.median_ms / n.median_ms;
  results.push({ case: name, native: n, wasm: w, ratio });
  console.log(
    `${name.padEnd(34)}${n.median_ms.toFixed(3).padStart(10)} ms${w.median_ms.toFixed(3).padStart(11)} ms${ratio.toFixed(2).padStart(7)}x   (${w.p10_ms.toFixed(2)}..${w.p90_ms.toFixed(2)})`,
  );
}
const worst = Math.max(...results.map((r) => r.ratio));
console.log(`\nworst ratio ${worst.toFixed(2)}x (budget <= ${BUDGET.ratio}x): ${worst <= BUDGET.ratio ? 'within budget' : 'OVER BUDGET'}`);

const sizes = JSON.parse(readFileSync(join(NPM_DIR, 'dist', 'sizes.json'), 'utf8'));
console.log('\nmodule                 raw         gzip -9');
for (const [m, s] of Object.entries(sizes)) {
  const flag = m === 'sign' ? `   (budget ${BUDGET.raw / 1024} KiB / ${BUDGET.gzip / 1024} KiB: ${s.raw <= BUDGET.raw && s.gzip <= BUDGET.gzip ? 'within' : 'OVER'})` : '';
  console.log(`zatca_${m}_bg.wasm${' '.repeat(Math.max(1, 9 - m.length))}${(s.raw / 1024).toFixed(1).padStart(7)} KiB${(s.gzip / 1024).toFixed(1).padStart(9)} KiB${flag}`);
}
mkdirSync(join(NPM_DIR, 'test-results'), { recursive: true });
writeFileSync(join(NPM_DIR, 'test-results', 'bench.json'), `${JSON.stringify({ version: version(), node: process.version, results, sizes }, null, 2)}\n`);
