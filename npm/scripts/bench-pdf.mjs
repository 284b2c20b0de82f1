// `npm run bench:pdf`: render time of the PDF module (initPdf/renderPdf) in Node for the
// golden-corpus documents, as medians. Native figures for the same documents come from
// `cargo bench -p zatca-pdf` (criterion).
//
// Each case runs ROUNDS rounds of N renders after a warm-up and keeps the lowest median: on a
// shared machine that is the least disturbed measurement. Also checks that every render gives the
// same bytes (the renderer is deterministic).
//
// Options: BENCH_N (renders per round, default 40), BENCH_ROUNDS (default 3),
// BENCH_CASES (comma-separated case names).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';

import { initPdf, renderPdf } from '../node.js';
import { FIXTURES, NPM_DIR } from '../test/helpers.mjs';

const N = Number(process.env.BENCH_N ?? 40);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CASES = (process.env.BENCH_CASES ?? 'standard-invoice,standard-invoice-200-lines').split(',');

const median = (sorted) => sorted[Math.floor((sorted.length - 1) / 2)];

await initPdf();
const wasm = join(NPM_DIR, 'dist', 'zatca_pdf_bg.wasm');
const bytes = readFileSync(wasm);
console.log(
  `zatca_pdf_bg.wasm ${(statSync(wasm).size / 1024).toFixed(0)} KiB raw, ${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(0)} KiB gzip -9; Node ${process.version}; ${N} renders x ${ROUNDS} rounds per case (best median)\n`,
);
console.log('case                              pages   PDF size   median    (min..max of the best round)');
for (const name of CASES) {
  const xml = readFileSync(join(FIXTURES, 'invoices', name, 'expected', 'signed.xml'));
  const first = renderPdf(xml);
  for (let i = 0; i < 5; i++) renderPdf(xml);
  let best = null;
  for (let round = 0; round < ROUNDS; round++) {
    const times = [];
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      const pdf = renderPdf(xml);
      times.push(performance.now() - t);
      if (pdf.length !== first.length) throw new Error(`${name}: renders differ in length`);
    }
    times.sort((a, b) => a - b);
    if (!best || median(times) < median(best)) best = times;
  }
  const pages = (Buffer.from(first).toString('latin1').match(/\/Type\s*\/Page\b/g) ?? []).length;
  console.log(
    `${name.padEnd(34)}${String(pages).padStart(5)}${(first.length / 1000).toFixed(0).padStart(8)} KB${median(best).toFixed(2).padStart(9)} ms  (${best[0].toFixed(2)}..${best[best.length - 1].toFixed(2)})`,
  );
}
