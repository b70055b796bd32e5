// `npm run bench`: pricelet vs onnxruntime-web (wasm backend, 1 thread) on the same model, the same
// pricing arithmetic and the same caching. Several fresh Node processes per implementation, warm-up
// before every steady-state measurement; medians in a table with ratios. Not part of `npm test`.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { build, sizes } from '../scripts/build.mjs';
import { ROOT } from '../scripts/setup.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IMPLS = ['pricelet', 'reference', 'floor'];
build();
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const results = Object.fromEntries(IMPLS.map((i) => [i, []]));
for (let i = 0; i < RUNS; i++) {
  for (const impl of IMPLS) {
    const out = execFileSync(process.execPath, [join(ROOT, 'bench', 'worker.mjs'), impl], { cwd: ROOT }).toString();
    results[impl].push(JSON.parse(out.trim().split('\n').pop()));
  }
}
const agree = (impl) => results.pricelet[0].prices.filter((p, i) => p === results[impl][0].prices[i]).length;
const ours = sizes(join(ROOT, 'dist', 'pricelet_bg.wasm'));
const ort = sizes(join(ROOT, 'node_modules', 'onnxruntime-web', 'dist', 'ort-wasm-simd-threaded.wasm'));
const m = (impl, k) => (results[impl][0][k] === undefined ? NaN : median(results[impl].map((r) => r[k])));
const row = (name, k) => [name, m('pricelet', k), m('reference', k), m('floor', k)];
const rows = [
  ['wasm raw (KB)', ours.raw / 1024, ort.raw / 1024, NaN],
  ['wasm gzip (KB)', ours.gzip / 1024, ort.gzip / 1024, NaN],
  ['wasm brotli (KB)', ours.brotli / 1024, ort.brotli / 1024, NaN],
  row('cold start: import + load + first quote (ms)', 'coldMs'),
  row('  import the package (ms)', 'importMs'),
  row('  compile the wasm (ms)', 'compileMs'),
  row('  instantiate (ms)', 'instantiateMs'),
  row('  model parse + optimize (ms; ORT: wasm compile, instantiate and model)', 'modelMs'),
  row('  first quote (ms)', 'firstQuoteMs'),
  row('priceFor, cache hit (µs)', 'hitUs'),
  row('48-item page right after track() (µs)', 'pageUs'),
  row('one item right after track(): single-row re-score (µs)', 'rescoreUs'),
  row('process RSS after the run (MB)', 'rssMB'),
];
const fmt = (x) => (Number.isNaN(x) ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ratio = (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? '–' : `${(a / b).toFixed(2)}×`);
const ortVersion = JSON.parse(execFileSync('npm', ['ls', 'onnxruntime-web', '--json'], { cwd: ROOT }).toString()).dependencies['onnxruntime-web'].version;
console.log(`\npricelet vs onnxruntime-web ${ortVersion} (wasm, 1 thread; the model as the standard ai.onnx.ml TreeEnsembleRegressor it runs natively) + JS, and the JS floor (the same trees walked in plain JavaScript), Node ${process.version}, ${RUNS} fresh processes each, medians`);
console.log(`same prices as pricelet on the 48 items: reference ${agree('reference')}/48, floor ${agree('floor')}/48\n`);
console.log('| metric | pricelet | onnxruntime-web + JS | JS floor | pricelet / ORT | pricelet / floor |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [name, a, b, c] of rows) console.log(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${fmt(c)} | ${ratio(a, b)} | ${ratio(a, c)} |`);
