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
import { createPricer } from '../js/node.js';
import { build } from '../scripts/build.mjs';
import { log } from '../scripts/setup.mjs';
import { ensureWrk, startWorker, workerdUsage, writePriceScript, wrk } from './edge.mjs';

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
  const { mf, url } = await startWorker();
  const dir = mkdtempSync(join(tmpdir(), 'pricelet-soak-'));
  try {
    const { script } = await writePriceScript(dir, url);
    await wrk(['-t1', '-c8', '-d3s', '-s', script, `${url}/price`]); // warm-up
    const samples = [{ s: 0, rss: workerdUsage().rssBytes }];
    const t0 = Date.now();
    const timer = setInterval(() => samples.push({ s: (Date.now() - t0) / 1000, rss: workerdUsage().rssBytes }), 5000);
    const r = await wrk(['-t2', '-c8', `-d${WORKER_SECONDS}s`, '--latency', '-s', script, `${url}/price`]);
    clearInterval(timer);
    samples.push({ s: (Date.now() - t0) / 1000, rss: workerdUsage().rssBytes });
    const health = await (await fetch(`${url}/health`)).json();
    return { ...r, samples, engineResets: health.engineResets };
  } finally {
    await mf.dispose();
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

log(`soak 2/2: ${WORKER_SECONDS} s of Worker load ...`);
const edge = await soakWorker();
const wrss = growth(edge.samples, 'rss', 16 * MB);
failed ||= !wrss.flat || edge.non2xx > 0 || edge.socketErrors !== 'none' || edge.engineResets > 0;
console.log(`\nWorker soak: wrk ${WORKER_SECONDS} s, 8 connections, 48-item /price bodies: ${edge.requests} requests, ${edge.rps.toFixed(0)} req/s, p50 ${edge.p50}, p99 ${edge.p99}, non-2xx ${edge.non2xx}, socket errors ${edge.socketErrors}, engine resets ${edge.engineResets}`);
console.log(`workerd RSS: ${mb(edge.samples[0].rss)} MB at start, ${mb(wrss.warm)} MB after warm-up, ${mb(wrss.last)} MB at the end (${wrss.flat ? 'flat' : 'GROWING'}); samples every 5 s: ${edge.samples.map((x) => mb(x.rss)).join(', ')}`);
if (failed) {
  log('soak FAILED: memory grew after warm-up, or there were errors (see above)');
  process.exitCode = 1;
}
