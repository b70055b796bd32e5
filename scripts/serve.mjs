// A small static file server for the demo (`npm start`) and the browser tests: 127.0.0.1 only,
// `.wasm` as application/wasm, no directory listings, nothing outside its roots.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8',
};

/**
 * Serves `mounts` ({ '/': dir, '/x/': { root, only: ['js/', 'a.json'] } }; longest prefix wins; `only`
 * limits a mount to those paths) on 127.0.0.1.
 * `port` 0 picks a free port; `scanFrom` tries that port and the next ones. Resolves to
 * { url, port, close, requests } where `requests` records every request (method, url).
 */
export async function serveStatic({ mounts, port = 0, scanFrom = null, headers = {} }) {
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const requests = [];
  const server = createServer(async (req, res) => {
    requests.push({ method: req.method, url: req.url });
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      const prefix = prefixes.find((p) => path.startsWith(p));
      if (!prefix || (req.method !== 'GET' && req.method !== 'HEAD')) throw Object.assign(new Error('not found'), { status: 404 });
      const mount = typeof mounts[prefix] === 'string' ? { root: mounts[prefix] } : mounts[prefix];
      const rel = path.slice(prefix.length);
      if (mount.only && !mount.only.some((o) => (o.endsWith('/') ? rel.startsWith(o) : rel === o))) throw Object.assign(new Error('not found'), { status: 404 });
      const root = normalize(mount.root);
      let file = normalize(join(root, rel));
      if (file !== root && !file.startsWith(root + sep)) throw Object.assign(new Error('forbidden'), { status: 403 });
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      res.writeHead(e.status ?? 404, { 'content-type': 'text/plain' });
      res.end(e.status === 403 ? 'forbidden' : 'not found');
    }
  });
  const listen = (p) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  if (scanFrom !== null) {
    for (let p = scanFrom; ; p += 1) {
      try { await listen(p); break; } catch (e) { if (e.code !== 'EADDRINUSE' || p > scanFrom + 100) throw e; }
    }
  } else {
    await listen(port);
  }
  const actual = server.address().port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}
