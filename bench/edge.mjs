// Shared by the Worker load check and the soak: the Worker bundle in workerd on 127.0.0.1,
// a real device's 48-item edgeRequest body, wrk, and the workerd processes' CPU time and memory.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as esbuild from 'esbuild';
import { join } from 'node:path';
import { ROOT } from '../scripts/setup.mjs';
import { bundleWorker } from '../scripts/worker.mjs';
import { createPricer } from '../js/node.js';
import { readForest } from './reference.mjs';

/** The workerd release that serves the Worker here (the one wrangler and Miniflare pin). */
export const WORKERD_VERSION = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'workerd', 'package.json'), 'utf8')).version;

export function ensureWrk() {
  if (spawnSync('wrk', ['--version']).error === undefined) return;
  if (process.getuid?.() === 0) execFileSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' });
  else throw new Error('wrk is missing: sudo apt-get install -y wrk');
}

const freePort = () => new Promise((resolve) => {
  const srv = createServer().listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
});

/**
 * Bundles the Worker as `wrangler deploy` would and serves it with the workerd binary itself on a
 * random loopback port: no Miniflare proxy in front (so every request and every byte of RSS is the
 * Worker's own), and V8's `--expose-gc` so the soak can collect garbage before it reads the heap.
 * With `inspect`, workerd's V8 inspector listens on loopback too (see `inspectIsolate`).
 * The Durable Object tally behind /report is left out: the load runs /price only.
 */
export async function startWorker({ inspect = false } = {}) {
  return serveModules(bundleWorker(), { inspect });
}

/**
 * The plain-JavaScript Worker of bench/js-worker, bundled by esbuild with the same model (its
 * trees as arrays), policy and model ranges as pricelet's, served the same way; hashing with
 * WebCrypto, or with `syncCrypto` node:crypto's synchronous functions (`nodejs_compat`).
 */
export async function startJsWorker({ syncCrypto = false } = {}) {
  const out = mkdtempSync(join(tmpdir(), 'pricelet-js-worker-'));
  const pricer = await createPricer({ consent: 'unknown' });
  const info = pricer.status.model.info;
  const spec = JSON.parse(readFileSync(join(ROOT, 'models', 'features.json'), 'utf8'));
  const setup = {
    policy: pricer.policy,
    model: { version: info.version, features: info.features, ranges: Object.fromEntries(spec.features.map((f) => [f.name, f.range])) },
    forest: readForest(readFileSync(join(ROOT, 'models', 'interest.onnx'))),
  };
  pricer.free();
  const src = join(out, 'src');
  mkdirSync(src);
  for (const f of ['worker.js', 'forest.js', 'endings.js']) copyFileSync(join(ROOT, 'bench', 'js-worker', f), join(src, f));
  writeFileSync(join(src, 'setup.json'), JSON.stringify(setup));
  await esbuild.build({
    entryPoints: [join(src, 'worker.js')], bundle: true, format: 'esm', outfile: join(out, 'index.js'), logLevel: 'warning',
    external: ['node:crypto'], define: { SYNC_CRYPTO: String(syncCrypto) },
  });
  // Both builds import node:crypto (the WebCrypto one never calls it): both run with nodejs_compat.
  const served = await serveModules(out, { flags: ['nodejs_compat'] });
  return { ...served, stop: async () => { await served.stop(); rmSync(out, { recursive: true, force: true }); } };
}

/** Serves the Worker modules in `out` (index.js first) with workerd on a random loopback port. */
async function serveModules(out, { inspect = false, flags = [] } = {}) {
  const kind = (f) => (f.endsWith('.js') ? 'esModule' : f.endsWith('.wasm') ? 'wasm' : f.endsWith('.onnx') ? 'data' : null);
  const modules = readdirSync(out).filter(kind).sort((a, b) => (a === 'index.js' ? -1 : b === 'index.js' ? 1 : 0));
  const text = (v) => JSON.stringify(v); // a capnp text literal is a JSON string
  writeFileSync(join(out, 'workerd.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "pricelet", worker = .pricelet)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "pricelet")],
  v8Flags = ["--expose-gc"],
);
const pricelet :Workerd.Worker = (
  modules = [${modules.map((f) => `(name = ${text(f)}, ${kind(f)} = embed ${text(f)})`).join(', ')}],
  compatibilityDate = "2025-06-01",${flags.length ? `\n  compatibilityFlags = [${flags.map(text).join(', ')}],` : ''}
  bindings = [(name = "PRICELET_SIGNING_KEY", text = "load-test-signing-key-0123456789"), (name = "PRICELET_KEY_ID", text = "k1")],
);
`);
  const inspectorPort = inspect ? await freePort() : undefined;
  // workerd reports the port it bound on the control fd (3) as a JSON line.
  const child = spawn(join(ROOT, 'node_modules', 'workerd', 'bin', 'workerd'),
    ['serve', 'workerd.capnp', '--control-fd=3', ...(inspect ? [`--inspector-addr=127.0.0.1:${inspectorPort}`] : [])],
    { cwd: out, stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  const port = await new Promise((resolve, reject) => {
    let control = '';
    child.stdio[3].on('data', (d) => {
      control += d;
      for (const line of control.split('\n')) {
        try { const e = JSON.parse(line); if (e.event === 'listen' && e.socket === 'http') resolve(e.port); } catch { /* partial line */ }
      }
    });
    child.on('exit', (code) => reject(new Error(`workerd exited with ${code} before listening`)));
  });
  // SIGKILL: workerd ignores SIGTERM while an inspector session is open, and keeps no state here.
  const stop = () => new Promise((resolve) => { if (child.exitCode !== null) resolve(); else { child.on('exit', resolve); child.kill('SIGKILL'); } });
  return { url: `http://127.0.0.1:${port}`, inspectorPort, stop, pid: child.pid };
}

/**
 * A CDP session on the Worker's isolate: `heapBytes({ gc })` = V8's used heap, after a full
 * garbage collection when `gc` is set (workerd runs with --expose-gc); `close()`.
 */
export async function inspectIsolate(inspectorPort) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.title.includes('pricelet'));
  if (!target) throw new Error(`no pricelet Worker among the inspector targets: ${targets.map((t) => t.title).join(', ')}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.addEventListener('open', resolve); ws.addEventListener('error', () => reject(new Error('inspector connection failed'))); });
  let id = 0;
  let contextId;
  const pending = new Map();
  ws.addEventListener('message', (m) => {
    const d = JSON.parse(m.data);
    if (d.method === 'Runtime.executionContextCreated') contextId = d.params.context.id;
    pending.get(d.id)?.(d);
    pending.delete(d.id);
  });
  const call = (method, params) => new Promise((resolve, reject) => {
    const i = ++id;
    pending.set(i, (d) => (d.error ? reject(new Error(`${method}: ${d.error.message}`)) : resolve(d.result)));
    ws.send(JSON.stringify({ id: i, method, params }));
  });
  await call('Runtime.enable'); // announces the Worker's execution context, where gc() lives
  return {
    heapBytes: async ({ gc = false } = {}) => {
      if (gc) {
        const r = await call('Runtime.evaluate', { expression: 'gc(), "collected"', contextId });
        if (r.result?.value !== 'collected') throw new Error(`gc() in the isolate failed: ${JSON.stringify(r)}`);
      }
      return (await call('Runtime.getHeapUsage')).usedSize;
    },
    close: () => ws.close(),
  };
}

/** A real device's 48-item edgeRequest body (after a recorded browse), as JSON text. */
export async function priceBody() {
  const device = await createPricer({ consent: 'granted', anonId: 'shopper-7' });
  for (const ev of JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/behaviour.json'), 'utf8'))) device.track({ ...ev, at: undefined });
  const items = Array.from({ length: 48 }, (_, i) => ({ id: `item-${i}`, price: (19.99 + i * 7).toFixed(2), currency: 'EUR', category: ['shoes', 'home', 'electronics', 'books'][i % 4], cost: (6 + i * 2).toFixed(2) }));
  const body = JSON.stringify(device.edgeRequest(items));
  device.free();
  return body;
}

/** A wrk Lua script posting `body`. */
export function writeScript(dir, body) {
  const script = join(dir, 'post.lua');
  writeFileSync(script, `wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`);
  return script;
}

/** A wrk Lua script posting a real device's 48-item edgeRequest, checked once against `url`. */
export async function writePriceScript(dir, url) {
  const body = await priceBody();
  const check = await fetch(`${url}/price`, { method: 'POST', body });
  if (check.status !== 200) throw new Error(`warm-up request failed: ${check.status} ${await check.text()}`);
  return { script: writeScript(dir, body), body, bodyBytes: body.length };
}

/**
 * Open-loop load: `rps` POSTs a second, on schedule whatever the answers' speed, over at most
 * `connections` keep-alive connections, for `seconds`. Latency counts from the scheduled time, so
 * queueing shows. Every failure is kept with its code. (wrk is closed-loop: it always drives the
 * isolate to saturation, see README "Worker load".)
 */
export async function pacedLoad({ url, body, rps, seconds, connections = 8 }) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies = [];
  const statuses = {};
  const errors = {};
  const one = (scheduled) => new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => {
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        latencies.push(performance.now() - scheduled);
        resolve();
      });
    });
    req.on('error', (e) => { errors[e.code ?? e.message] = (errors[e.code ?? e.message] ?? 0) + 1; resolve(); });
    req.end(body);
  });
  const pending = [];
  const t0 = performance.now();
  for (let i = 0; i < rps * seconds; i++) {
    const scheduled = t0 + (i * 1000) / rps;
    const wait = scheduled - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(one(scheduled));
  }
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p) => `${latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]?.toFixed(1)}ms`;
  const ok = Object.entries(statuses).filter(([c]) => c < 300).reduce((n, [, k]) => n + k, 0);
  return { requests: latencies.length + Object.values(errors).reduce((a, b) => a + b, 0), ok, non2xx: latencies.length - ok, errors, p50: q(0.5), p99: q(0.99) };
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

/**
 * The workerd processes started by this Node process (or only the one with `pid`): CPU seconds
 * (user + system) and RSS bytes.
 */
export function workerdUsage(pid) {
  let cpuSeconds = 0;
  let rssBytes = 0;
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x) && (pid === undefined || Number(x) === pid))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (!comm.startsWith('workerd') || Number(fields[1]) !== process.pid) continue;
      cpuSeconds += (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
      rssBytes += Number(fields[21]) * 4096; // pages
    } catch { /* the process ended */ }
  }
  return { cpuSeconds, rssBytes };
}
