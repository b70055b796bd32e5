// `npm run bench`: pricelet vs onnxruntime-web (wasm backend, 1 thread) on the same model, the same
// pricing arithmetic and the same caching. Several fresh Node processes per implementation, warm-up
// before every steady-state measurement; medians in a table with ratios. Not part of `npm test`.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { build, sizes } from '../scripts/build.mjs';
import { ROOT } from '../scripts/setup.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
build();
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const results = { pricelet: [], reference: [] };
for (let i = 0; i < RUNS; i++) {
  for (const impl of ['pricelet', 'reference']) {
    const out = execFileSync(process.execPath, [join(ROOT, 'bench', 'worker.mjs'), impl], { cwd: ROOT }).toString();
    results[impl].push(JSON.parse(out.trim().split('\n').pop()));
  }
}
const agree = results.pricelet[0].prices.filter((p, i) => p === results.reference[0].prices[i]).length;
const ours = sizes(join(ROOT, 'dist', 'pricelet_bg.wasm'));
const ort = sizes(join(ROOT, 'node_modules', 'onnxruntime-web', 'dist', 'ort-wasm-simd-threaded.wasm'));
const m = (impl, k) => median(results[impl].map((r) => r[k]));
const rows = [
  ['wasm raw (KB)', ours.raw / 1024, ort.raw / 1024],
  ['wasm gzip (KB)', ours.gzip / 1024, ort.gzip / 1024],
  ['wasm brotli (KB)', ours.brotli / 1024, ort.brotli / 1024],
  ['cold start: import + load + first quote (ms)', m('pricelet', 'coldMs'), m('reference', 'coldMs')],
  ['priceFor, cache hit (µs)', m('pricelet', 'hitUs'), m('reference', 'hitUs')],
  ['48-item page right after track() (µs)', m('pricelet', 'pageUs'), m('reference', 'pageUs')],
  ['process RSS after the run (MB)', m('pricelet', 'rssMB'), m('reference', 'rssMB')],
];
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ortVersion = JSON.parse(execFileSync('npm', ['ls', 'onnxruntime-web', '--json'], { cwd: ROOT }).toString()).dependencies['onnxruntime-web'].version;
console.log(`\npricelet vs onnxruntime-web ${ortVersion} (wasm, 1 thread), Node ${process.version}, ${RUNS} fresh processes each, medians`);
console.log(`reference quotes the same prices as pricelet on ${agree}/48 items\n`);
console.log('| metric | pricelet | onnxruntime-web + JS | ratio (pricelet / reference) |');
console.log('|---|---:|---:|---:|');
for (const [name, a, b] of rows) console.log(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${(a / b).toFixed(2)}× |`);
