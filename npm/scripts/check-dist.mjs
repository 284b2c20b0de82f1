// Run by `npm test` first: builds dist/ with scripts/build.sh when it is missing or older than
// the Rust sources it is made from, so that the tests never run against stale WebAssembly.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const npm = join(dirname(fileURLToPath(import.meta.url)), '..');
const repo = join(npm, '..');

function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((n) => newest(join(path, n))));
}

const built = existsSync(join(npm, 'dist', 'sizes.json')) ? statSync(join(npm, 'dist', 'sizes.json')).mtimeMs : 0;
const sources = Math.max(
  ...['wasm/core/src', 'wasm/core/Cargo.toml', 'wasm/pdf/src', 'wasm/pdf/Cargo.toml', 'wasm/rules/src', 'wasm/rules/data', 'wasm/rules/Cargo.toml', 'wasm/bindings/src', 'wasm/bindings/Cargo.toml', 'Cargo.lock'].map((p) => newest(join(repo, p))),
);
if (process.env.ZATCA_NPM_NO_AUTOBUILD === '1') {
  if (!built) throw new Error('npm/dist is missing: run npm/scripts/build.sh');
} else if (built < sources) {
  console.error(built ? 'dist/ is older than the Rust sources: rebuilding' : 'dist/ is missing: building');
  execFileSync(join(npm, 'scripts', 'build.sh'), { stdio: 'inherit', env: { ...process.env, ZATCA_NPM_SKIP_TSC: '1' } });
}
