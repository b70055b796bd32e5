// `npm run bench:models`: what each shipped model costs in wasm, next to onnxruntime-web running the
// same ONNX file (wasm backend, 1 thread) in the same process. Load = pricelet's createPricer with
// the model minus without it (parse, validate, optimize, trial inference) vs ORT's
// InferenceSession.create; per row = a re-scored priceFor after a track() with the model minus
// without it (features + inference) vs one ORT session.run on a [1, n] float32 tensor. Medians.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from '../scripts/build.mjs';
import { ROOT } from '../scripts/setup.mjs';

build();
const { createPricer } = await import('../js/node.js');
const ort = await import('onnxruntime-web');
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const item = { id: 'sneaker-1', price: '89.99', currency: 'EUR', category: 'shoes', cost: '30.00' };
let clock = Date.UTC(2026, 10, 29, 11);
const view = (i) => ({ type: 'page_view', at: clock, page: { kind: i % 3 ? 'product' : 'informational', id: `p${i % 40}`, bounceRate: 0.02, exitRate: 0.04, pageValue: (i % 5) * 3 } });
const bytesOf = (name) => new Uint8Array(readFileSync(join(ROOT, 'models', `${name}.onnx`)));

async function loadMs(options, n = 15) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const p = await createPricer({ consent: 'unknown', anonId: 'bench', now: () => clock, ...options });
    times.push(performance.now() - t);
    p.free();
  }
  return median(times);
}

/** µs per re-scored quote: every call tracks a page view first, so the session score is recomputed. */
async function rescoreUs(options, runs = 3000) {
  const p = await createPricer({ consent: 'unknown', anonId: 'bench', now: () => clock, stabilityTtlMs: 0, ...options });
  const once = (i) => { clock += 1000; p.track(view(i)); p.priceFor(item); };
  for (let i = 0; i < 500; i++) once(i);
  const times = [];
  for (let i = 0; i < runs; i++) { const t = performance.now(); once(i); times.push((performance.now() - t) * 1000); }
  const status = p.status;
  p.free();
  if (options.model && status.model.state !== 'ready') throw new Error(`model not ready: ${JSON.stringify(status.model)}`);
  return median(times);
}

async function ortCost(bytes, width, n = 15, runs = 3000) {
  const loads = [];
  let session;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    loads.push(performance.now() - t);
  }
  const input = session.inputNames[0];
  const feeds = { [input]: new ort.Tensor('float32', new Float32Array(width).fill(0.5), [1, width]) };
  for (let i = 0; i < 300; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) { const t = performance.now(); await session.run(feeds); times.push((performance.now() - t) * 1000); }
  return { loadMs: median(loads), rowUs: median(times) };
}

const widthOf = (name) => JSON.parse(readFileSync(join(ROOT, 'models', `${name.replace('-gemm', '')}.parity.json`), 'utf8')).featureNames.length;
const baseLoad = await loadMs({ model: null });
const baseRow = await rescoreUs({ model: null });
const rows = [];
// interest-gemm: the same trees in the tensor form pricelet shipped before it ran TreeEnsembleRegressor.
for (const name of ['interest', 'interest-gemm', 'interest-behaviour']) {
  const bytes = bytesOf(name);
  const load = (await loadMs({ model: bytes })) - baseLoad;
  const row = (await rescoreUs({ model: bytes })) - baseRow;
  rows.push([name, bytes.length, load, row, await ortCost(bytes, widthOf(name))]);
}
{
  // The uplift model rides along the interest model: its cost is the difference the option makes.
  const interest = bytesOf('interest');
  const bytes = bytesOf('uplift');
  const load = (await loadMs({ model: interest, upliftModel: bytes })) - (await loadMs({ model: interest }));
  const row = (await rescoreUs({ model: interest, upliftModel: bytes })) - (await rescoreUs({ model: interest }));
  rows.push(['uplift', bytes.length, load, row, await ortCost(bytes, widthOf('uplift'))]);
}
const ortVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-web', 'package.json'), 'utf8')).version;
console.log(`\nModel cost in wasm: pricelet (tract) vs onnxruntime-web ${ortVersion} (wasm, 1 thread), Node ${process.version}, medians\n`);
console.log('| model | file (KB) | pricelet load (ms) | ORT session create (ms) | ratio | pricelet per row (µs) | ORT run, 1 row (µs) | ratio |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
const f = (x) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
for (const [name, size, load, row, o] of rows) {
  console.log(`| ${name} | ${(size / 1024).toFixed(1)} | ${f(load)} | ${f(o.loadMs)} | ${(load / o.loadMs).toFixed(2)}× | ${f(row)} | ${f(o.rowUs)} | ${(row / o.rowUs).toFixed(2)}× |`);
}
console.log('\npricelet per row includes the feature computation from the behaviour log; ORT is the bare model run.');
// For the model card (models/README.md "Cost in wasm", rendered by `python3 models/train.py --card`).
writeFileSync(join(ROOT, 'models', 'wasm-cost.json'), `${JSON.stringify({
  date: new Date().toISOString().slice(0, 10), node: process.version, ort: ortVersion, note: process.env.BENCH_NOTE ?? '',
  rows: rows.map(([model, size, load, row, o]) => ({ model, fileKB: size / 1024, loadMs: load, rowUs: row, ortLoadMs: o.loadMs, ortRowUs: o.rowUs })),
}, null, 2)}\n`);
