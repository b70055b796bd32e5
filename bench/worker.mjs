// One fresh process of the benchmark: `node bench/worker.mjs <pricelet|reference>` prints JSON with
// the cold start and the steady-state costs (after warm-up) of one implementation.
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

if (impl === 'pricelet') {
  const { createPricer } = await import('../js/node.js');
  const pricer = await createPricer({ consent: 'unknown', anonId: 'shopper-7', now, stabilityTtlMs: 30 * 60 * 1000 });
  pricer.priceFor(items[0]);
  result.coldMs = performance.now() - t0;
  for (let i = 0; i < 5; i++) pricer.track(pageView(i, clock - 60_000 + i * 1000));
  result.hitUs = timeLoop(() => pricer.priceFor(items[1]));
  const page = await createPricer({ consent: 'unknown', anonId: 'shopper-7', now, stabilityTtlMs: 0 });
  let k = 0;
  result.pageUs = timeLoop(() => { clock += 1000; page.track(pageView(k++, clock)); page.pricesFor(items); });
  clock = NOW0 + 5000;
  const check = await createPricer({ consent: 'unknown', anonId: 'shopper-7', now, stabilityTtlMs: 0 });
  for (let i = 0; i < 5; i++) check.track(pageView(i, clock - 4000 + i * 500));
  result.prices = check.pricesFor(items).map((q) => q.priceMinor);
} else {
  const { ReferencePricer, loadSpec } = await import('./reference.mjs');
  const policy = JSON.parse(readFileSync(join(ROOT, 'policy', 'default.json'), 'utf8'));
  const spec = loadSpec(ROOT);
  const modelBytes = readFileSync(join(ROOT, 'models', 'interest.onnx'));
  const features = JSON.parse(readFileSync(join(ROOT, 'models', 'interest.parity.json'), 'utf8')).featureNames;
  const make = (stabilityTtlMs) => ReferencePricer.create({ modelBytes, policy, spec, features, anonId: 'shopper-7', stabilityTtlMs, now });
  const pricer = await make(30 * 60 * 1000);
  await pricer.priceFor(items[0]);
  result.coldMs = performance.now() - t0;
  for (let i = 0; i < 5; i++) pricer.track(pageView(i, clock - 60_000 + i * 1000));
  result.hitUs = await timeLoopAsync(() => pricer.priceFor(items[1]));
  const page = await make(0);
  let k = 0;
  result.pageUs = await timeLoopAsync(async () => { clock += 1000; page.track(pageView(k++, clock)); await page.pricesFor(items); });
  clock = NOW0 + 5000;
  const check = await make(0);
  for (let i = 0; i < 5; i++) check.track(pageView(i, clock - 4000 + i * 500));
  result.prices = (await check.pricesFor(items)).map((q) => q.priceMinor);
}
result.rssMB = process.memoryUsage().rss / 1e6;
console.log(JSON.stringify(result));
