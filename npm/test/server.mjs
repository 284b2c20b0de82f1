// A minimal static server for the browser test (and for trying the package by hand):
// `/` serves npm/, `/fixtures/` serves tests/fixtures. `node test/server.mjs [port]` runs it.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { FIXTURES, NPM_DIR } from './helpers.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.pem': 'text/plain; charset=utf-8',
};

function resolvePath(urlPath) {
  const path = decodeURIComponent(urlPath.split('?')[0]);
  const [root, rest] = path.startsWith('/fixtures/') ? [FIXTURES, path.slice('/fixtures/'.length)] : [NPM_DIR, path.slice(1)];
  const full = normalize(join(root, rest || 'index.html'));
  return full === root || full.startsWith(root + sep) ? full : null;
}

/** Starts the server on 127.0.0.1 (`port` 0: any free port); resolves to { url, close }. */
export function startServer(port = 0) {
  const server = createServer(async (req, res) => {
    const path = resolvePath(req.url ?? '/');
    try {
      if (!path) throw Object.assign(new Error('outside the roots'), { code: 'ENOENT' });
      const body = await readFile(path);
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address();
      resolve({ url: `http://127.0.0.1:${actual}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await startServer(Number(process.argv[2] ?? 8080));
  console.log(`serving npm/ at ${url}/ and tests/fixtures at ${url}/fixtures/ — test page: ${url}/test/browser/`);
}
