// Shared by the Worker load check and the soak: the Worker bundle in Miniflare/workerd on 127.0.0.1,
// a real device's 48-item edgeRequest body, wrk, and the workerd processes' CPU time and memory.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT } from '../scripts/setup.mjs';
import { bundleWorker } from '../scripts/worker.mjs';
import { createPricer } from '../js/node.js';

export function ensureWrk() {
  if (spawnSync('wrk', ['--version']).error === undefined) return;
  if (process.getuid?.() === 0) execFileSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' });
  else throw new Error('wrk is missing: sudo apt-get install -y wrk');
}

const freePort = () => new Promise((resolve) => {
  const srv = createServer().listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
});

/**
 * Bundles the Worker as `wrangler deploy` would and serves it on a random loopback port. With
 * `inspect`, also opens workerd's V8 inspector (loopback) so `isolateHeapBytes()` can read the
 * Worker isolate's JS heap (needs Node's --experimental-websocket on Node 20).
 */
export async function startWorker({ inspect = false } = {}) {
  const out = bundleWorker();
  const inspectorPort = inspect ? await freePort() : undefined;
  const mf = new Miniflare({
    modules: true, scriptPath: join(out, 'index.js'), modulesRoot: out,
    modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }, { type: 'Data', include: ['**/*.onnx'] }],
    compatibilityDate: '2025-06-01', bindings: { PRICELET_SIGNING_KEY: 'load-test-signing-key-0123456789' },
    host: '127.0.0.1', port: 0, cf: false, inspectorPort,
  });
  const url = (await mf.ready).href.replace(/\/$/, '');
  return { mf, url, inspectorPort };
}

/** A CDP session on the user Worker's isolate: `heapBytes()` = V8's used heap; `close()`. */
export async function inspectIsolate(inspectorPort) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.title.includes('core:user'));
  if (!target) throw new Error(`no user Worker among the inspector targets: ${targets.map((t) => t.title).join(', ')}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.addEventListener('open', resolve); ws.addEventListener('error', () => reject(new Error('inspector connection failed'))); });
  let id = 0;
  const pending = new Map();
  ws.addEventListener('message', (m) => { const d = JSON.parse(m.data); pending.get(d.id)?.(d); pending.delete(d.id); });
  const call = (method) => new Promise((resolve) => { const i = ++id; pending.set(i, resolve); ws.send(JSON.stringify({ id: i, method })); });
  return {
    heapBytes: async () => (await call('Runtime.getHeapUsage')).result.usedSize,
    close: () => ws.close(),
  };
}

/** A wrk Lua script posting a real device's 48-item edgeRequest (after a recorded browse). */
export async function writePriceScript(dir, url) {
  const device = await createPricer({ consent: 'granted', anonId: 'shopper-7' });
  for (const ev of JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/behaviour.json'), 'utf8'))) device.track({ ...ev, at: undefined });
  const items = Array.from({ length: 48 }, (_, i) => ({ id: `item-${i}`, price: (19.99 + i * 7).toFixed(2), currency: 'EUR', category: ['shoes', 'home', 'electronics', 'books'][i % 4], cost: (6 + i * 2).toFixed(2) }));
  const body = JSON.stringify(device.edgeRequest(items));
  const check = await fetch(`${url}/price`, { method: 'POST', body });
  if (check.status !== 200) throw new Error(`warm-up request failed: ${check.status} ${await check.text()}`);
  const script = join(dir, 'post.lua');
  writeFileSync(script, `wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`);
  return { script, bodyBytes: body.length };
}

/** Runs wrk without blocking the event loop (so memory can be sampled meanwhile); parses its report. */
export function wrk(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let report = '';
    child.stdout.on('data', (d) => { report += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}`));
      const p = (q) => report.match(new RegExp(`\\s${q}%\\s+([\\d.]+\\w+)`))?.[1];
      resolve({
        requests: Number(report.match(/(\d+) requests in/)[1]),
        rps: Number(report.match(/Requests\/sec:\s+([\d.]+)/)[1]),
        p50: p(50), p99: p(99),
        non2xx: Number(report.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
        socketErrors: report.match(/Socket errors: (.*)/)?.[1] ?? 'none',
      });
    });
  });
}

/** The workerd processes started by this Node process: CPU seconds (user + system) and RSS bytes. */
export function workerdUsage() {
  let cpuSeconds = 0;
  let rssBytes = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (!comm.startsWith('workerd') || Number(fields[1]) !== process.pid) continue;
      cpuSeconds += (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
      rssBytes += Number(fields[21]) * 4096; // pages
    } catch { /* the process ended */ }
  }
  return { cpuSeconds, rssBytes };
}
