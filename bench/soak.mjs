// `npm run soak`: long-run checks, not part of `npm test`.
//  1. Node: 1,000,000 priceFor/track calls on one pricer (consent granted, a store adapter, a clock
//     that advances 7 s per call so sessions split, retention expires events and the log evicts),
//     wasm linear memory, JS heap (after a forced GC) and RSS sampled every 50,000 calls.
//  2. Worker: 60 s of wrk against the wrangler bundle in workerd, workerd RSS sampled every 5 s.
// "Flat" = no growth between the sample after warm-up (20 % of the run) and the last one, beyond
// a small allowance for allocator noise; the script exits non-zero otherwise.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPricer, signQuote } from '../js/node.js';
import { build } from '../scripts/build.mjs';
import { log } from '../scripts/setup.mjs';
import { ensureWrk, inspectIsolate, startWorker, workerdUsage, writePriceScript, wrk } from './edge.mjs';

const CALLS = Number(process.env.SOAK_CALLS ?? 1_000_000);
const WORKER_SECONDS = Number(process.env.SOAK_WORKER_SECONDS ?? 60);
const MB = 1024 * 1024;
const mb = (b) => (b / MB).toFixed(1);
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc (npm run soak does)');

const CATEGORIES = ['shoes', 'home', 'electronics', 'books'];
const items = Array.from({ length: 48 }, (_, i) => ({ id: `item-${i}`, price: (19.99 + i * 7).toFixed(2), currency: 'EUR', category: CATEGORIES[i % 4], cost: (6 + i * 2).toFixed(2) }));
const KINDS = ['product', 'product', 'informational', 'administrative'];

function event(i, at) {
  // One event in eight is a cart change or a purchase; the rest are page views with dwell times.
  const item = items[i % items.length];
  if (i % 40 === 7) return { type: 'add_to_cart', at, itemId: item.id, category: item.category, quantity: 1 };
  if (i % 40 === 15) return { type: 'remove_from_cart', at, itemId: item.id };
  if (i % 40 === 23) return { type: 'purchase', at, amount: item.price, currency: 'EUR', itemId: item.id };
  const kind = KINDS[i % 4];
  return { type: 'page_view', at, dwellMs: 1000 + (i % 60) * 1000, category: kind === 'product' ? item.category : undefined,
    page: { kind, id: `${kind}-${i % 300}`, bounceRate: (i % 17) / 400, exitRate: (i % 23) / 300, pageValue: kind === 'product' ? (i % 11) * 1.5 : 0 } };
}

async function soakNode() {
  let saved = null;
  let saves = 0;
  const storage = { load: () => saved, save: (s) => { saved = s; saves += 1; } };
  let clock = Date.UTC(2026, 10, 1);
  const pricer = await createPricer({ consent: 'granted', storage, anonId: 'soak-shopper', now: () => clock });
  const samples = [];
  const sample = (calls) => {
    globalThis.gc();
    const m = process.memoryUsage();
    samples.push({ calls, wasm: pricer.status.wasmMemoryBytes, heap: m.heapUsed, rss: m.rss, events: pricer.status.events });
  };
  let tracked = 0;
  let priced = 0;
  let errors = 0;
  sample(0);
  const t0 = performance.now();
  for (let i = 1; i <= CALLS; i++) {
    clock += 7_000;
    try {
      if (i % 5 === 0) {
        pricer.track(event(tracked++, clock));
      } else {
        const q = pricer.priceFor(items[i % items.length]);
        if (q.priceMinor > q.listPriceMinor || q.priceMinor <= 0) throw new Error(`implausible quote ${JSON.stringify(q)}`);
        priced++;
      }
    } catch (e) {
      errors++;
      if (errors < 5) console.error(e);
    }
    if (i % 50_000 === 0) sample(i);
  }
  const seconds = (performance.now() - t0) / 1000;
  const status = pricer.status;
  pricer.free();
  return { seconds, samples, tracked, priced, errors, saves, resets: status.engineResets, days: (CALLS * 7) / 86_400 };
}

async function soakWorker() {
  ensureWrk();
  const { mf, url, inspectorPort } = await startWorker({ inspect: true });
  const dir = mkdtempSync(join(tmpdir(), 'pricelet-soak-'));
  const isolate = await inspectIsolate(inspectorPort);
  try {
    const { script } = await writePriceScript(dir, url);
    await wrk(['-t1', '-c8', '-d3s', '-s', script, `${url}/price`]); // warm-up
    // workerd's RSS, and the engine's linear memory inside the isolate (from /health).
    // workerd's process RSS, the Worker isolate's V8 heap (inspector), and the engine's linear
    // memory inside the isolate (/health). The heap is sampled every second and each 5 s sample keeps
    // the smallest reading (closest to after a GC).
    const wasmBytes = async () => {
      for (let attempt = 0; ; attempt++) {
        try { return (await (await fetch(`${url}/health`)).json()).wasmMemoryBytes; } catch (e) { if (attempt === 3) throw e; }
      }
    };
    const heapWindow = [];
    const heapTimer = setInterval(async () => heapWindow.push(await isolate.heapBytes()), 1000);
    const take = async (t0) => {
      const heap = heapWindow.length ? Math.min(...heapWindow.splice(0)) : await isolate.heapBytes();
      return { s: (Date.now() - t0) / 1000, rss: workerdUsage().rssBytes, wasm: await wasmBytes(), heap };
    };
    const t0 = Date.now();
    const samples = [await take(t0)];
    const timer = setInterval(async () => samples.push(await take(t0)), 5000);
    // A 10 s client timeout: a slow answer on a busy 2-core machine is latency (p99), not an error.
    const r = await wrk(['-t2', '-c8', `-d${WORKER_SECONDS}s`, '--timeout', '10s', '--latency', '-s', script, `${url}/price`]);
    clearInterval(timer);
    clearInterval(heapTimer);
    samples.push(await take(t0));
    const health = await (await fetch(`${url}/health`)).json();
    return { ...r, samples, engineResets: health.engineResets };
  } finally {
    isolate.close();
    await mf.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The Worker's own code path (priceFromFeatures + signQuote over a real 48-item edge request) in
 * Node, where a GC can be forced: JS heap per request after warm-up. workerd's inspector does not
 * force a GC, so its heap readings include garbage not yet collected.
 */
async function edgePathInNode(requests = 3000) {
  const device = await createPricer({ consent: 'granted', anonId: 'shopper-7', storage: 'memory' });
  for (let i = 0; i < 5; i++) device.track(event(i * 4 + 1, Date.now() - 60_000 + i * 1000));
  const body = JSON.stringify(device.edgeRequest(items));
  const edge = await createPricer({ consent: 'denied' });
  const once = async () => {
    for (const q of edge.priceFromFeatures(JSON.parse(body))) if (!q.error) await signQuote(q, 'k1', 'soak-signing-key-0123456789');
  };
  for (let i = 0; i < 200; i++) await once();
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < requests; i++) await once();
  globalThis.gc();
  const after = process.memoryUsage().heapUsed;
  device.free();
  edge.free();
  return { requests, before, after, perRequest: (after - before) / requests };
}

/** Growth from the post-warm-up sample to the last; flat = within `allowance` bytes. */
function growth(samples, key, allowance) {
  const warm = samples[Math.floor(samples.length / 5)];
  const last = samples.at(-1);
  const grew = last[key] - warm[key];
  return { warm: warm[key], last: last[key], grew, flat: grew <= allowance };
}

build();
let failed = false;
const only = process.env.SOAK_ONLY; // 'node' or 'worker' to run one half
if (only !== 'worker') {
log(`soak 1/2: ${CALLS} priceFor/track calls in Node ...`);
const node = await soakNode();
const wasm = growth(node.samples, 'wasm', 0); // linear memory only grows: any growth after warm-up is a leak
const heap = growth(node.samples, 'heap', 2 * MB);
const rss = growth(node.samples, 'rss', 16 * MB);
failed ||= !wasm.flat || !heap.flat || !rss.flat || node.errors > 0 || node.resets > 0;
console.log(`\nNode soak: ${CALLS} calls (${node.priced} priceFor, ${node.tracked} track, ${node.saves} saves), ${node.days.toFixed(0)} simulated days, Node ${process.version}`);
console.log(`${(CALLS / node.seconds).toFixed(0)} calls/s over ${node.seconds.toFixed(1)} s; errors ${node.errors}; engine resets ${node.resets}\n`);
console.log('| memory | at start | after warm-up (20 %) | at the end | growth after warm-up | flat? |');
console.log('|---|---:|---:|---:|---:|---|');
for (const [name, key, g] of [['wasm linear memory (MB)', 'wasm', wasm], ['JS heap after GC (MB)', 'heap', heap], ['process RSS (MB)', 'rss', rss]]) {
  console.log(`| ${name} | ${mb(node.samples[0][key])} | ${mb(g.warm)} | ${mb(g.last)} | ${mb(g.grew)} | ${g.flat ? 'yes' : 'NO'} |`);
}

}

if (only !== 'node') {
log('soak 2/2: the Worker\'s code path in Node, then Worker load ...');
const path = await edgePathInNode();
failed ||= path.perRequest > 64;
console.log(`\nWorker code path in Node (priceFromFeatures + signQuote, 48 items, GC forced): JS heap ${mb(path.before)} -> ${mb(path.after)} MB over ${path.requests} requests (${path.perRequest.toFixed(0)} B/request)`);
const edge = await soakWorker();
// Judged: the engine's linear memory in the isolate (flat), the code path's heap in Node (above), and
// errors. Reported only: the isolate's V8 heap (no forced GC there) and workerd's RSS, which under
// Miniflare grows by a few KB per request even for GET /health, which runs no pricelet code.
const wheap = growth(edge.samples, 'heap', Infinity);
const wwasm = growth(edge.samples, 'wasm', 0);
const wrss = growth(edge.samples, 'rss', Infinity);
const socketErrors = /connect 0, read 0, write 0, timeout 0/.test(edge.socketErrors) || edge.socketErrors === 'none';
failed ||= !wwasm.flat || edge.non2xx > 0 || !socketErrors || edge.engineResets > 0;
console.log(`\nWorker soak: wrk ${WORKER_SECONDS} s, 8 connections, 48-item /price bodies: ${edge.requests} requests, ${edge.rps.toFixed(0)} req/s, p50 ${edge.p50}, p99 ${edge.p99}, non-2xx ${edge.non2xx}, socket errors ${edge.socketErrors}, engine resets ${edge.engineResets}`);
console.log(`isolate V8 heap, not garbage-collected on demand (reported, not judged): ${mb(edge.samples[0].heap)} MB at start, ${mb(wheap.last)} MB at the end; every 5 s: ${edge.samples.map((x) => mb(x.heap)).join(', ')}`);
console.log(`workerd process RSS (not judged, see above): ${mb(edge.samples[0].rss)} MB at start, ${mb(wrss.last)} MB at the end`);
console.log(`engine linear memory in the isolate: ${mb(edge.samples[0].wasm)} MB at start, ${mb(wwasm.last)} MB at the end (${wwasm.flat ? 'flat' : 'GROWING'})`);
}
if (failed) {
  log('soak FAILED: memory grew after warm-up, or there were errors (see above)');
  process.exitCode = 1;
}
