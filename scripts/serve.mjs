// A small static file server for the demo (`npm start`) and the browser tests: 127.0.0.1 only,
// `.wasm` as application/wasm, no directory listings, nothing outside its roots. With `cdn: true` it
// answers as a CDN would: brotli or gzip by Accept-Encoding (compressed once per file version),
// an ETag with `Cache-Control: no-cache` (a repeat visit revalidates and gets 304), and a year of
// `immutable` caching for fingerprinted names (`name.<8+ hex>.ext`, what bundlers emit).
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join, normalize, sep } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

/** Worth compressing: text and wasm (ONNX files are mostly floats, but still shrink by a third). */
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.wasm', '.onnx', '.svg', '.txt']);
const FINGERPRINTED = /\.[0-9a-f]{8,}\.[a-z0-9]+$/;

/** path → { mtimeMs, etag, br, gzip }: each file version is compressed once, at the best level. */
const encoded = new Map();
/** Compressed copies on disk by content hash, so a restart does not pay brotli 11 again. */
const DISK_CACHE = join(import.meta.dirname, '..', 'target', 'serve-cache');

function compressed(hash, kind, body) {
  const path = join(DISK_CACHE, `${hash}.${kind}`);
  if (existsSync(path)) return readFileSync(path);
  const out = kind === 'br'
    ? brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } })
    : gzipSync(body, { level: 9 });
  mkdirSync(DISK_CACHE, { recursive: true });
  writeFileSync(path, out);
  return out;
}

function encodings(file, mtimeMs, body) {
  const hit = encoded.get(file);
  if (hit?.mtimeMs === mtimeMs) return hit;
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 22);
  const entry = { mtimeMs, etag: `"${hash}"` };
  if (COMPRESSIBLE.has(extname(file))) {
    entry.br = compressed(hash, 'br', body);
    entry.gzip = compressed(hash, 'gz', body);
  }
  encoded.set(file, entry);
  return entry;
}

/** Every file a mount serves (for compressing before the first visitor, as a CDN's build step does). */
function mountFiles(mount) {
  const m = typeof mount === 'string' ? { root: mount } : mount;
  const walk = (rel) => {
    const abs = join(m.root, rel);
    if (!existsSync(abs)) return [];
    return statSync(abs).isDirectory() ? readdirSync(abs).flatMap((f) => walk(join(rel, f))) : [abs];
  };
  return (m.only ?? ['']).flatMap(walk);
}

/** The encoding to send for an Accept-Encoding header: br, then gzip, else identity. */
function negotiate(accept = '') {
  const offered = new Map(accept.split(',').map((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return [name, q ? Number(q.slice(2)) : 1];
  }));
  for (const name of ['br', 'gzip']) if ((offered.get(name) ?? offered.get('*') ?? 0) > 0) return name;
  return null;
}

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
export async function serveStatic({ mounts, port = 0, scanFrom = null, headers = {}, cdn = false }) {
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  if (cdn) {
    for (const file of Object.values(mounts).flatMap(mountFiles)) encodings(file, statSync(file).mtimeMs, readFileSync(file));
  }
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
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      if (!cdn) {
        res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', ...headers });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      const version = encodings(file, (await stat(file)).mtimeMs, body);
      const caching = FINGERPRINTED.test(basename(file)) ? 'public, max-age=31536000, immutable' : 'no-cache';
      const common = { etag: version.etag, 'cache-control': caching, vary: 'Accept-Encoding', ...headers };
      if (req.headers['if-none-match'] === version.etag) {
        res.writeHead(304, common);
        res.end();
        return;
      }
      const encoding = version.br ? negotiate(req.headers['accept-encoding']) : null;
      const sent = encoding ? version[encoding] : body;
      res.writeHead(200, { 'content-type': type, 'content-length': sent.length, ...(encoding ? { 'content-encoding': encoding } : {}), ...common });
      res.end(req.method === 'HEAD' ? undefined : sent);
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
