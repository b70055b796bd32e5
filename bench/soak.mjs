// `npm run soak`: long-run checks, not part of `npm test`.
//  1. Node: 1,000,000 priceFor/track calls on one pricer (consent granted, a store adapter, a clock
//     that advances 7 s per call so sessions split, retention expires events and the log evicts),
//     wasm linear memory, JS heap (after a forced GC) and RSS sampled every 50,000 calls.
//  2. Worker: 60 s of steady /price load (60 req/s, about half of one isolate's capacity here) on the
//     wrangler bundle in workerd; every 5 s the isolate's V8 heap after a full GC (workerd runs with
//     --expose-gc; gc() through its inspector), the engine's linear memory in the isolate, and
//     workerd's RSS.
// "Flat" = no growth between the sample after warm-up (20 % of the run) and the last one, beyond
// a small allowance for allocator noise; the script exits non-zero otherwise.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPricer } from '../js/node.js';
import { build } from '../scripts/build.mjs';
import { log } from '../scripts/setup.mjs';
import { WORKERD_VERSION, inspectIsolate, pacedLoad, startWorker, workerdUsage, writePriceScript } from './edge.mjs';

const CALLS = Number(process.env.SOAK_CALLS ?? 1_000_000);
const WORKER_SECONDS = Number(process.env.SOAK_WORKER_SECONDS ?? 60);
// Half of what one isolate serves on this 2-core machine (`npm run bench:worker`): a soak checks
// long-run behaviour, not saturation.
const WORKER_RPS = Number(process.env.SOAK_WORKER_RPS ?? 60);
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
  const { url, inspectorPort, stop } = await startWorker({ inspect: true });
  const dir = mkdtempSync(join(tmpdir(), 'pricelet-soak-'));
  let isolate;
  try {
    isolate = await inspectIsolate(inspectorPort);
    const { body } = await writePriceScript(dir, url);
    const load = (seconds) => pacedLoad({ url: `${url}/price`, body, rps: WORKER_RPS, seconds });
    await load(3); // warm-up
    // Every 5 s, under load: the isolate's V8 heap after a full GC (gc() through the inspector; the
    // smallest of the five taken once a second, as a GC mid-request still holds in-flight bodies),
    // the engine's linear memory inside the isolate (/health) and workerd's RSS. The first and the
    // last samples are taken at rest, before and after the load.
    // The sampler's own keep-alive connection may be closed by workerd between samples; retry it.
    const wasmBytes = async () => {
      for (let attempt = 0; ; attempt++) {
        try { return (await (await fetch(`${url}/health`)).json()).wasmMemoryBytes; } catch (e) { if (attempt === 3) throw e; }
      }
    };
    const heapWindow = [];
    let gcs = Promise.resolve();
    const gcTimer = setInterval(() => { gcs = gcs.then(async () => heapWindow.push(await isolate.heapBytes({ gc: true }))); }, 1000);
    const take = async (t0) => {
      const heap = heapWindow.length ? Math.min(...heapWindow.splice(0)) : await isolate.heapBytes({ gc: true });
      return { s: (Date.now() - t0) / 1000, heap, wasm: await wasmBytes(), rss: workerdUsage().rssBytes };
    };
    const t0 = Date.now();
    const samples = [await take(t0)];
    let sampling = Promise.resolve();
    const timer = setInterval(() => { sampling = sampling.then(async () => samples.push(await take(t0))); }, 5000);
    const r = await load(WORKER_SECONDS);
    clearInterval(timer);
    clearInterval(gcTimer);
    await sampling;
    await gcs;
    heapWindow.length = 0;
    samples.push(await take(t0));
    const health = await (await fetch(`${url}/health`)).json();
    return { ...r, samples, engineResets: health.engineResets };
  } finally {
    isolate?.close();
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
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
log('soak 2/2: Worker load in workerd ...');
const edge = await soakWorker();
// The heap is judged at rest (before vs after the load: nothing in flight); memory held per request
// would show there.
const wheap = { warm: growth(edge.samples, 'heap', 0).warm, last: edge.samples.at(-1).heap, grew: edge.samples.at(-1).heap - edge.samples[0].heap };
wheap.flat = wheap.grew <= 2 * MB;
const wwasm = growth(edge.samples, 'wasm', 0);
const wrss = growth(edge.samples, 'rss', 16 * MB);
const errors = Object.entries(edge.errors).map(([code, n]) => `${n} ${code}`).join(', ') || 'none';
failed ||= !wheap.flat || !wwasm.flat || !wrss.flat || edge.non2xx > 0 || errors !== 'none' || edge.engineResets > 0;
console.log(`\nWorker soak: ${WORKER_SECONDS} s at ${WORKER_RPS} req/s (open loop, up to 8 keep-alive connections), 48-item /price bodies, workerd ${WORKERD_VERSION} on 127.0.0.1: ${edge.requests} requests, ${edge.ok} answered 2xx, p50 ${edge.p50}, p99 ${edge.p99}, non-2xx ${edge.non2xx}, connection errors ${errors}, engine resets ${edge.engineResets}\n`);
console.log('| memory | at start | after warm-up (20 %) | at the end | growth after warm-up | flat? |');
console.log('|---|---:|---:|---:|---:|---|');
for (const [name, key, g] of [['isolate V8 heap after GC (MB; growth judged from the start, both at rest)', 'heap', wheap], ['engine linear memory in the isolate (MB)', 'wasm', wwasm], ['workerd RSS (MB)', 'rss', wrss]]) {
  console.log(`| ${name} | ${mb(edge.samples[0][key])} | ${mb(g.warm)} | ${mb(g.last)} | ${mb(g.grew)} | ${g.flat ? 'yes' : 'NO'} |`);
}
console.log(`\nevery 5 s (MB): isolate V8 heap after GC ${edge.samples.map((x) => mb(x.heap)).join(', ')}; workerd RSS ${edge.samples.map((x) => mb(x.rss)).join(', ')}`);
}
if (failed) {
  log('soak FAILED: memory grew after warm-up, or there were errors (see above)');
  process.exitCode = 1;
}
