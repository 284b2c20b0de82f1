// Debian's Chromium for the browser tests: `apt-get install chromium` is tried when it is
// missing and we run as root or with passwordless sudo; without it the tests are skipped with
// a message saying so.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.ZATCA_CHROMIUM ?? '/usr/bin/chromium';

function ensureChromium() {
  if (existsSync(CHROMIUM)) return null;
  const asRoot = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  try {
    const cmd = [...asRoot, 'apt-get', 'install', '-y', '-q', 'chromium'];
    execFileSync(cmd[0], cmd.slice(1), { stdio: 'ignore', timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (e) {
    return `apt-get install chromium failed (${e.message.split('\n')[0]})`;
  }
  return existsSync(CHROMIUM) ? null : `apt-get installed no ${CHROMIUM}`;
}

/** `false` when Chromium is there (installed now if needed), else the reason to skip. */
export function chromiumSkip() {
  const missing = ensureChromium();
  if (!missing) return false;
  const reason = `browser test skipped: ${CHROMIUM} is not available and ${missing}`;
  console.log(`# ${reason}`);
  return reason;
}
