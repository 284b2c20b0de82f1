// Starts the relay (its own process, demo mode with its in-process ZATCA simulators) for the
// tests that talk to it, and a TCP proxy in front of it that a test can cut and restore: a
// relay that is really unreachable (connection refused), not a mocked fetch.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'zatca', 'target');
export const RELAY = process.env.ZATCA_RELAY_BIN ?? join(target, 'debug', 'zatca-relay');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The relay in demo mode on a free port with a fresh SQLite file; `args` are added. */
export async function startRelay(args = []) {
  assert.ok(existsSync(RELAY), `relay binary not found at ${RELAY}: build it first (cargo build -p zatca-relay; scripts/test.sh does)`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'zatca-relay-'));
  const child = spawn(
    RELAY,
    ['--demo', '--listen', `127.0.0.1:${port}`, '--database-url', `sqlite://${join(dir, 'relay.db')}`, ...args],
    { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, RELAY_LOG: 'warn' } },
  );
  // The banner names the simulators (their /admin endpoints count what ZATCA received).
  let banner = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    banner += chunk;
  });
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    assert.ok(Date.now() - started < 30_000, 'the relay did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  while (!/ZATCA simulators: sandbox \S+/.test(banner)) {
    assert.ok(Date.now() - started < 30_000, 'the relay printed no banner');
    await new Promise((r) => setTimeout(r, 20));
  }
  const sandboxSim = banner.match(/ZATCA simulators: sandbox (\S+)/)[1];
  child.stdout.resume();
  const stop = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  return { child, base, port, dir, stop, sandboxSim };
}

/** A TCP proxy to `port` that can be stopped (connections refused) and started again. */
export async function startProxy(port) {
  const listenPort = await freePort();
  const sockets = new Set();
  let server = null;
  const proxy = {
    base: `http://127.0.0.1:${listenPort}`,
    async up() {
      if (server) return;
      server = createServer((client) => {
        const upstream = connect(port, '127.0.0.1');
        sockets.add(client);
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      await new Promise((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
    },
    async down() {
      if (!server) return;
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise((resolve) => server.close(resolve));
      server = null;
    },
  };
  await proxy.up();
  return proxy;
}

// The developer portal's test taxpayer, whose VAT number the sandbox requires.
export const SELLER = {
  name: 'Maximum Speed Tech Supply LTD',
  vat_number: '399999999900003',
  crn: '1010010000',
  address: {
    street: 'Prince Sultan',
    building_number: '2322',
    district: 'Al-Murabba',
    city: 'Riyadh',
    postal_code: '23333',
    country: 'SA',
  },
};

export const BUYER = {
  name: 'Client Co',
  vat_number: '399999999800003',
  address: { street: 'Olaya', building_number: '1234', district: 'Olaya', city: 'Riyadh', postal_code: '12211', country: 'SA' },
};

export function csrConfig(name, invoiceType = '0100') {
  return {
    common_name: name,
    serial_number: `1-${name.replace(/\W/g, '')}|2-1.0|3-0001`,
    organization_identifier: SELLER.vat_number,
    organization_unit: 'Riyadh Branch',
    organization_name: SELLER.name,
    country: 'SA',
    invoice_type: invoiceType,
    location_address: '2322 Prince Sultan Riyadh',
    industry_business_category: 'Supply activities',
  };
}

/** The invoice input of a compliance document of `kind` (`simplified_credit_note`, …). */
export function complianceInput(kind) {
  const [invoiceType, ...rest] = kind.split('_');
  const documentType = rest.join('_');
  const input = {
    invoice_number: `CMP-${kind}`,
    invoice_date: '2025-01-15',
    invoice_time: '14:30:00',
    invoice_type: invoiceType,
    document_type: documentType,
    seller: SELLER,
    line_items: [{ description: 'Coffee', quantity: 3, unit_price: 10 }],
  };
  if (invoiceType === 'standard') input.buyer = BUYER;
  if (documentType !== 'invoice') {
    input.original_invoice_number = 'CMP-1';
    input.reason = 'Compliance check';
  }
  return input;
}
