// `npm run bench:worker-profile`: where the engine's time in a 48-item POST /price goes. The
// server engine the build linked (target/pricelet-build/server.wasm, names kept) is bound and
// optimized as the shipped one (wasm-bindgen, wasm-opt -Oz) but keeps its function names; the
// Worker's call — the body's text in, signed quotes as JSON text out — runs N times in Node under
// V8's sampling profiler, and every sample is charged to the innermost stage on its stack. Node's
// V8 is not workerd's, so the shares are the result; the absolute time per request is printed too.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from '../scripts/build.mjs';
import { ROOT, log, wasmBindgen } from '../scripts/setup.mjs';
import { priceBody } from './edge.mjs';

const N = Number(process.env.PROFILE_REQUESTS ?? 3000);
const KEY = { keyId: 'k1', key: 'load-test-signing-key-0123456789' };

/** Stages, innermost first: a sample goes to the first stage a frame of its stack (leaf to root) matches. */
const STAGES = [
  ['quote id (SHA-256 of the JCS text)', /Quote.*>::seal\b/],
  ['signature (HMAC-SHA-256)', /Quote.*>::signed_by/],
  ['model (tract)', /Pricer.*>::score\b|tract_/],
  ['items (Item::from_json)', /Item.*>::from_json/],
  ['pricing: candidates, choice, quote text', /decide_with_scores|pricing::|finish_quote|base_quote/],
  ['JSON out (serde_json)', /convert::json|ser::Serialize|serde_json.*ser::/],
  ['request in (text to typed)', /edge_request|EdgeRequest|serde_json.*de::|convert::text|string_get|DeserializeSeed/],
  ['features checked, columns', /price_from_features/],
  ['freeing', /drop_glue|dealloc|::free\b/],
  ['JavaScript (wrapper, glue)', /^(?!.*(::|wasm-function)).+$/],
];

build();
const dir = mkdtempSync(join(tmpdir(), 'pricelet-profile-'));
try {
  const linked = join(ROOT, 'target', 'pricelet-build', 'server.wasm');
  execFileSync(wasmBindgen(), ['--target', 'web', '--no-typescript', '--omit-default-module-path', '--keep-debug', '--out-dir', dir, '--out-name', 'engine', linked]);
  execFileSync(join(ROOT, 'node_modules', '.bin', 'wasm-opt'), ['-Oz', '-g', '--strip-dwarf', '--enable-bulk-memory', '--enable-sign-ext', '--enable-nontrapping-float-to-int', '--enable-mutable-globals',
    join(dir, 'engine_bg.wasm'), '-o', join(dir, 'engine.wasm')]);
  const glue = await import(join(dir, 'engine.js'));
  glue.initSync({ module: new WebAssembly.Module(readFileSync(join(dir, 'engine.wasm'))) });
  const memory = () => { let s = null; return { load: () => s, save: (x) => { s = x; } }; };
  const model = new Uint8Array(readFileSync(join(ROOT, 'models', 'interest.onnx')));
  const pricer = new glue.WasmPricer('null', new glue.ModelLoad(model, 'interest'), undefined, JSON.stringify({ consent: 'unknown', storage: 'adapter' }), { storage: memory(), sessionStorage: memory() });
  const body = await priceBody();
  // What the Worker does with a request: text in, the response's text out.
  const request = () => `{"quotes":${pricer.priceFromFeatures(body, KEY.keyId, KEY.key)}}`;
  for (let i = 0; i < 300; i += 1) request();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 50 });
  await session.post('Profiler.start');
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1) request();
  const us = ((performance.now() - t0) * 1000) / N;
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inRequest = (id) => { for (let k = id; k !== undefined; k = parent.get(k)) if (byId.get(k).callFrame.functionName === 'request') return true; return false; };
  const charged = new Map(STAGES.map(([name]) => [name, 0]));
  let total = 0;
  for (const id of profile.samples) {
    if (!inRequest(id)) continue;
    total += 1;
    let stage = 'other';
    for (let k = id; k !== undefined && stage === 'other'; k = parent.get(k)) {
      const name = byId.get(k).callFrame.functionName;
      stage = STAGES.find(([, re]) => re.test(name))?.[0] ?? 'other';
    }
    charged.set(stage, (charged.get(stage) ?? 0) + 1);
  }
  console.log(`\nThe engine's share of a 48-item POST /price (signed), ${N} requests in Node ${process.version}: ${us.toFixed(0)} µs per request\n`);
  console.log('| stage | share | µs per request |');
  console.log('|---|---:|---:|');
  for (const [name, count] of [...charged].sort((a, b) => b[1] - a[1])) {
    if (count) console.log(`| ${name} | ${((100 * count) / total).toFixed(1)} % | ${((us * count) / total).toFixed(0)} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  log('done');
}
