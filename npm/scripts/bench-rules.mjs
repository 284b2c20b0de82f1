// `npm run bench:rules`: validation time of the validation module (initRules/validate) in Node
// for the SDK's Standard_Invoice.xml (the figure of zatca-rules' criterion bench, `cargo bench
// -p zatca-rules`) and a 200-line golden document, as medians. Target: < 3 ms in WebAssembly.
//
// Each case runs ROUNDS rounds of N validations after a warm-up and keeps the lowest median: on
// a shared machine that is the least disturbed measurement.
//
// Options: BENCH_N (validations per round, default 500), BENCH_ROUNDS (default 5).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';

import { initRules, validate } from '../node.js';
import { FIXTURES, NPM_DIR } from '../test/helpers.mjs';

const N = Number(process.env.BENCH_N ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CASES = [
  ['sdk Standard_Invoice.xml', join(FIXTURES, 'samples', 'sdk-R3.4.8', 'Standard', 'Invoice', 'Standard_Invoice.xml')],
  ['standard-invoice-200-lines', join(FIXTURES, 'invoices', 'standard-invoice-200-lines', 'expected', 'signed.xml')],
];

const median = (sorted) => sorted[Math.floor((sorted.length - 1) / 2)];

const t0 = performance.now();
await initRules();
const load = performance.now() - t0;
const wasm = join(NPM_DIR, 'dist', 'zatca_rules_bg.wasm');
const bytes = readFileSync(wasm);
console.log(
  `zatca_rules_bg.wasm ${(statSync(wasm).size / 1024).toFixed(1)} KiB raw, ${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KiB gzip -9; loaded in ${load.toFixed(1)} ms; Node ${process.version}; ${N} validations x ${ROUNDS} rounds per case (best median)\n`,
);
console.log('case                              valid  issues   median    (min..max of the best round)');
for (const [name, path] of CASES) {
  const xml = readFileSync(path);
  const first = validate(xml);
  for (let i = 0; i < 20; i++) validate(xml);
  let best = null;
  for (let round = 0; round < ROUNDS; round++) {
    const times = [];
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      validate(xml);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    if (!best || median(times) < median(best)) best = times;
  }
  console.log(
    `${name.padEnd(34)}${String(first.valid).padStart(5)}${String(first.issues.length).padStart(8)}${median(best).toFixed(3).padStart(9)} ms  (${best[0].toFixed(3)}..${best[best.length - 1].toFixed(3)})`,
  );
}
