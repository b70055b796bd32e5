// One fresh process of the benchmark: `node bench/worker.mjs <pricelet|reference|floor>` prints JSON
// with the cold start (step by step) and the steady-state costs (after warm-up) of one implementation.
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const t0 = performance.now();
const ROOT = join(import.meta.dirname, '..');
const impl = process.argv[2];
const NOW0 = Date.now();
const items = Array.from({ length: 48 }, (_, i) => ({
  id: `item-${i}`, price: (19.99 + i * 7).toFixed(2), currency: i % 8 === 7 ? 'JPY' : 'EUR',
  category: ['shoes', 'home', 'electronics', 'books'][i % 4], cost: (6 + i * 2).toFixed(2),
}));
for (const it of items) if (it.currency === 'JPY') { it.price = String(1000 + it.id.length * 990); it.cost = '400'; }
const pageView = (i, at) => ({ type: 'page_view', at, page: { kind: i % 3 ? 'product' : 'informational', id: `item-${i % 48}`, bounceRate: 0.02, exitRate: 0.04, pageValue: (i % 5) * 3 } });

function timeLoop(fn, warmMs = 500, runMs = 1000) {
  const end = performance.now() + warmMs;
  while (performance.now() < end) fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < runMs) { fn(); n += 1; }
  return ((performance.now() - start) * 1000) / n;
}

async function timeLoopAsync(fn, warmMs = 500, runMs = 1000) {
  const end = performance.now() + warmMs;
  while (performance.now() < end) await fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < runMs) { await fn(); n += 1; }
  return ((performance.now() - start) * 1000) / n;
}

let clock = NOW0;
const now = () => clock;
const result = { impl };
const lap = (() => { let t = performance.now(); return () => { const d = performance.now() - t; t = performance.now(); return d; }; })();

/** µs per call over `n` calls after `warm` ones: the same count for every implementation, so each
 * ends with the same behaviour log (a time budget would give the faster one a longer log). */
async function timeCalls(fn, warm = 40, n = 200) {
  for (let i = 0; i < warm; i++) await fn();
  const start = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return ((performance.now() - start) * 1000) / n;
}

// Steady state, the same script for every implementation:
// hitUs: priceFor of an item quoted before (within the stability TTL);
// pageUs: track() of a page view, then pricesFor of 48 items (a visit of 40 to 240 page views);
// rescoreUs: track() then priceFor of one item (a single-row re-score and one quote).
async function steady(make, hitLoop) {
  const pricer = await make(30 * 60 * 1000);
  for (let i = 0; i < 5; i++) pricer.track(pageView(i, clock - 60_000 + i * 1000));
  result.hitUs = await hitLoop(() => pricer.priceFor(items[1]));
  const start = clock;
  const page = await make(0);
  let k = 0;
  result.pageUs = await timeCalls(() => { clock += 1000; page.track(pageView(k++, clock)); return page.pricesFor(items); });
  const one = await make(0);
  clock = start;
  k = 0;
  result.rescoreUs = await timeCalls(() => { clock += 1000; one.track(pageView(k++, clock)); return one.priceFor(items[k % 48]); });
  clock = NOW0 + 5000;
  const check = await make(0);
  for (let i = 0; i < 5; i++) check.track(pageView(i, clock - 4000 + i * 500));
  result.prices = (await check.pricesFor(items)).map((q) => q.priceMinor);
}

if (impl === 'pricelet') {
  // Cold start, step by step: import the package, compile the wasm, instantiate it, parse and
  // optimize the model (createPricer), the first quote.
  const pkg = await import('../js/node.js');
  result.importMs = lap();
  const module = await WebAssembly.compile(readFileSync(join(ROOT, 'dist', 'pricelet_server_bg.wasm')));
  result.compileMs = lap();
  await pkg.init({ wasm: module });
  result.instantiateMs = lap();
  const first = await pkg.createPricer({ consent: 'unknown', anonId: 'shopper-7', now, stabilityTtlMs: 30 * 60 * 1000 });
  result.modelMs = lap();
  first.priceFor(items[0]);
  result.firstQuoteMs = lap();
  result.coldMs = performance.now() - t0;
  const make = (stabilityTtlMs) => pkg.createPricer({ consent: 'unknown', anonId: 'shopper-7', now, stabilityTtlMs });
  await steady(make, async (fn) => timeLoop(fn));
} else {
  const { FloorPricer, ReferencePricer, loadSpec } = await import('./reference.mjs');
  result.importMs = lap();
  const policy = JSON.parse(readFileSync(join(ROOT, 'policy', 'default.json'), 'utf8'));
  const spec = loadSpec(ROOT);
  // Each engine gets the form of the model that suits it best: the shipped file is the standard
  // ai.onnx.ml TreeEnsembleRegressor, which onnxruntime runs natively (BENCH_MODEL overrides it for
  // onnxruntime; the floor always walks the shipped trees).
  const modelBytes = readFileSync(join(ROOT, impl === 'floor' ? 'models/interest.onnx' : process.env.BENCH_MODEL ?? 'models/interest.onnx'));
  const features = JSON.parse(readFileSync(join(ROOT, 'models', 'interest.parity.json'), 'utf8')).featureNames;
  const Pricer = impl === 'floor' ? FloorPricer : ReferencePricer;
  const make = (stabilityTtlMs) => Pricer.create({ modelBytes, policy, spec, features, anonId: 'shopper-7', stabilityTtlMs, now });
  const first = await make(30 * 60 * 1000);
  result.modelMs = lap();
  await first.priceFor(items[0]);
  result.firstQuoteMs = lap();
  result.coldMs = performance.now() - t0;
  await steady(make, impl === 'floor' ? async (fn) => timeLoop(fn) : (fn) => timeLoopAsync(fn));
}
result.rssMB = process.memoryUsage().rss / 1e6;
console.log(JSON.stringify(result));
