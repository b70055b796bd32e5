// `npm run bench:reports`: how many reports one tally shard (one ReportTally Durable Object) takes.
// The Worker bundle runs in workerd (Miniflare) on 127.0.0.1 with PRICELET_TALLY_SHARDS = 1 under
// policy/learning.json; concurrent clients POST real device report batches (one device's 4 reports
// a request, as the per-batch limit allows) for a fixed number of requests. Prints requests/s and
// reports/s of the shard, latency, workerd CPU per request, the engine's fold time per batch, and
// the shards needed for a given report rate. Not part of `npm test`.
//
// Here the Worker, the Durable Object and Miniflare's router share one workerd process, so the
// figure is a lower bound for a deployed shard (where Workers on many machines feed the object).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT, log } from '../scripts/setup.mjs';
import { BUNDLE_RULES, bundleWorker } from '../scripts/worker.mjs';
import { createPricer, tallyReports } from '../js/node.js';
import { WORKERD_VERSION, workerdUsage } from './edge.mjs';

const REQUESTS = Number(process.env.REPORT_REQUESTS ?? 4000);
const CLIENTS = Number(process.env.REPORT_CLIENTS ?? 16);
const POLICY = JSON.parse(readFileSync(join(ROOT, 'policy', 'learning.json'), 'utf8'));
const PER_BATCH = Math.floor(POLICY.reporting.dailyEpsilon / POLICY.reporting.epsilon);
const TARGETS = [1_000, 10_000];

/** One batch per device: the reports of the first quotes it was shown that make one (under a
 * learning policy, explore quotes only: a few percent), up to its daily budget. */
async function deviceBatches(devices) {
  const batches = [];
  for (let i = 0; batches.length < devices; i++) {
    const device = await createPricer({ consent: 'granted', anonId: `bench-device-${i}`, storage: 'memory', policy: POLICY });
    const batch = [];
    for (let j = 0; batch.length < PER_BATCH && j < 1000; j++) {
      const out = device.report(device.priceFor({ id: `bench-item-${j}`, price: '49.99', currency: 'EUR', category: 'home' }), { converted: j % 5 === 0 });
      if (out.report) batch.push(out.report);
    }
    device.free();
    if (batch.length === PER_BATCH) batches.push(JSON.stringify({ reports: batch }));
  }
  return batches;
}

const out = bundleWorker();
const batches = await deviceBatches(64);
const mf = new Miniflare({
  modules: true,
  scriptPath: join(out, 'index.js'),
  modulesRoot: out,
  modulesRules: BUNDLE_RULES,
  compatibilityDate: '2025-06-01',
  bindings: { PRICELET_SIGNING_KEY: 'bench-signing-key-0123456789', PRICELET_POLICY: POLICY, PRICELET_TALLY_SHARDS: 1 },
  durableObjects: { REPORTS: { className: 'ReportTally', useSQLite: true }, POLICY: { className: 'PolicyStore', useSQLite: true } },
  host: '127.0.0.1',
  port: 0,
  cf: false,
  outboundService: () => new Response('no outbound requests', { status: 599 }),
});

try {
  const url = `${(await mf.ready).href.replace(/\/$/, '')}/report`;
  const latencies = [];
  const statuses = {};
  let next = 0;
  async function client(count) {
    while (next < count) {
      const body = batches[next++ % batches.length];
      const t0 = performance.now();
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    }
  }
  const run = async (count) => {
    next = 0;
    latencies.length = 0;
    for (const k of Object.keys(statuses)) delete statuses[k];
    await Promise.all(Array.from({ length: CLIENTS }, () => client(count)));
  };
  await run(200); // warm-up: engine, pricer, policy store
  const cpu0 = workerdUsage().cpuSeconds;
  const t0 = performance.now();
  await run(REQUESTS);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = workerdUsage().cpuSeconds - cpu0;
  if (statuses[202] !== REQUESTS) throw new Error(`not every request was accepted: ${JSON.stringify(statuses)}`);
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
  const rps = REQUESTS / seconds;
  const reportsPerSecond = rps * PER_BATCH;

  // The engine's part of one update (tallyReports of a batch into a running tally), in Node.
  const parsed = batches.map((b) => JSON.parse(b).reports);
  let tally = null;
  for (const b of parsed) tally = await tallyReports(b, tally, { policy: POLICY });
  const folds = 2000;
  const f0 = performance.now();
  for (let i = 0; i < folds; i++) tally = await tallyReports(parsed[i % parsed.length], tally, { policy: POLICY });
  const foldMicros = ((performance.now() - f0) * 1000) / folds;

  console.log(`\nReport shard throughput: ${REQUESTS} POST /report of ${PER_BATCH} reports, ${CLIENTS} concurrent clients, one shard, workerd ${WORKERD_VERSION} (Miniflare) on 127.0.0.1\n`);
  console.log('| requests/s | reports/s | p50 | p99 | workerd CPU per request | engine fold per batch (Node) | tally cells |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  console.log(`| ${rps.toFixed(0)} | ${reportsPerSecond.toFixed(0)} | ${q(0.5)} ms | ${q(0.99)} ms | ${((cpu / REQUESTS) * 1000).toFixed(2)} ms | ${foldMicros.toFixed(0)} µs | ${tally.size} |`);
  console.log(`\nwall time per request at the shard: ${(1000 / rps).toFixed(2)} ms (an upper bound on one Durable Object update: the object applies them one at a time, and shares the 2 cores with the Worker and the clients)`);
  for (const r of TARGETS) console.log(`shards needed for ${r.toLocaleString('en')} reports/s = ceil(${r} / ${reportsPerSecond.toFixed(0)}) = ${Math.ceil(r / reportsPerSecond)}`);
} finally {
  await mf.dispose();
  log('done');
}
