// Builds the package's generated files into dist/:
//   pricelet_bg.wasm  the one engine wasm (tract inside), shared by the web, node and workerd entries
//   pricelet.js       its wasm-bindgen glue (--target web), patched so an engine reset can re-instantiate
//   lite.js, lite-wasm.js  the small list-price wasm (no tract) and its bytes inlined, for a synchronous listQuote()
// Skips the work when nothing it reads has changed (dist/.build-stamp). `--force` rebuilds.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { ROOT, ensureNodeModules, ensureRustWasmTarget, log, output, run, wasmBindgen } from './setup.mjs';

const DIST = join(ROOT, 'dist');
const WORK = join(ROOT, 'target', 'pricelet-build');
const STAMP = join(DIST, '.build-stamp');
const INPUTS = ['Cargo.toml', 'Cargo.lock', '.cargo', 'src', 'models/features.json', 'policy/default.json', 'scripts/build.mjs'];
const WASM_FEATURES = [
  '--enable-simd', '--enable-bulk-memory', '--enable-sign-ext', '--enable-mutable-globals',
  '--enable-nontrapping-float-to-int', '--enable-reference-types', '--enable-multivalue',
];

function files(path) {
  const abs = join(ROOT, path);
  if (!existsSync(abs)) return [];
  if (!statSync(abs).isDirectory()) return [path];
  return readdirSync(abs).sort().flatMap((f) => files(join(path, f)));
}

export function inputsHash() {
  const h = createHash('sha256');
  h.update(toolchain());
  for (const f of INPUTS.flatMap(files)) {
    h.update(relative(ROOT, join(ROOT, f)));
    h.update(readFileSync(join(ROOT, f)));
  }
  return h.digest('hex');
}

export function isStale() {
  const outputs = ['pricelet_bg.wasm', 'pricelet.js', 'lite.js', 'lite-wasm.js'].map((f) => join(DIST, f));
  return !outputs.every(existsSync) || !existsSync(STAMP) || readFileSync(STAMP, 'utf8') !== inputsHash();
}

// The size build (TOOLCHAIN.md): nightly rebuilds std with panic=immediate-abort and without panic
// locations or derived Debug output, which brings the engine under the 1.9 MB gzip budget. It is
// used when a nightly toolchain is installed; otherwise (or with PRICELET_TOOLCHAIN=stable) the
// stable build is used — identical results, about 9 % larger.
const SIZE_RUSTFLAGS = '-C target-feature=+simd128 -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=shallow';

export function toolchain() {
  if (process.env.PRICELET_TOOLCHAIN === 'stable') return 'stable';
  const list = output('rustup', ['toolchain', 'list']) ?? '';
  return /^nightly-/m.test(list) ? 'nightly' : 'stable';
}

function ensureNightlyParts() {
  const components = output('rustup', ['component', 'list', '--toolchain', 'nightly', '--installed']) ?? '';
  if (!/^rust-src/m.test(components)) run('rustup', ['component', 'add', 'rust-src', '--toolchain', 'nightly']);
  const targets = output('rustup', ['target', 'list', '--toolchain', 'nightly', '--installed']) ?? '';
  if (!targets.split('\n').includes('wasm32-unknown-unknown')) run('rustup', ['target', 'add', 'wasm32-unknown-unknown', '--toolchain', 'nightly']);
}

function cargoWasm(features, outName, chain) {
  // `cargo rustc --crate-type cdylib` so LTO applies to the wasm (cargo#9672, TOOLCHAIN.md).
  const common = ['rustc', '--lib', '--profile', 'wasm-release', '--target', 'wasm32-unknown-unknown',
    '--no-default-features', ...(features ? ['--features', features] : []), '--crate-type', 'cdylib'];
  let dir = join(ROOT, 'target');
  if (chain === 'nightly') {
    dir = join(ROOT, 'target', 'nightly');
    run('cargo', ['+nightly', ...common, '-Z', 'build-std=std,panic_abort', '--target-dir', dir], { env: { RUSTFLAGS: SIZE_RUSTFLAGS } });
  } else {
    run('cargo', common);
  }
  copyFileSync(join(dir, 'wasm32-unknown-unknown', 'wasm-release', 'pricelet.wasm'), join(WORK, outName));
}

// wasm-bindgen's glue refuses a second initSync(); after a trap the wrapper must re-instantiate from
// the cached module, so that one guard is removed (and the build fails loudly if the glue changes).
function allowReinit(glue) {
  const guard = 'if (wasm !== undefined) return wasm;';
  const count = glue.split(guard).length - 1;
  if (count !== 2) throw new Error(`wasm-bindgen glue changed: expected 2 init guards, found ${count}; update scripts/build.mjs`);
  const i = glue.indexOf('function initSync(');
  if (i < 0) throw new Error('wasm-bindgen glue has no initSync()');
  const j = glue.indexOf(guard, i);
  return `${glue.slice(0, j)}/* pricelet: re-initialisation allowed (engine reset) */${glue.slice(j + guard.length)}`;
}

// wasm-bindgen frees a collected JS object's Rust half through a FinalizationRegistry that calls
// into the *current* instance. After an engine reset that is the new instance, where the old
// pointer means nothing (or another live object): each registration therefore remembers its own
// instance, and a finalizer for an instance that is gone does nothing (that memory died with it).
function scopeFinalizers(glue) {
  const registry = /new FinalizationRegistry\(ptr => wasm\.(__wbg_\w+_free)\(ptr, (\d+)\)\)/g;
  const register = /(\w+Finalization)\.register\(this, this\.__wbg_ptr, this\)/g;
  const registries = glue.match(registry)?.length ?? 0;
  const registers = glue.match(register)?.length ?? 0;
  if (registries === 0 || registers === 0) {
    throw new Error(`wasm-bindgen glue changed: ${registries} finalization registries, ${registers} registrations; update scripts/build.mjs`);
  }
  const scoped = glue
    .replace(registry, 'new FinalizationRegistry(({ ptr, instance }) => { if (instance === wasm) wasm.$1(ptr, $2); })')
    .replace(register, '$1.register(this, { ptr: this.__wbg_ptr, instance: wasm }, this)');
  if (/FinalizationRegistry\(ptr =>|\.register\(this, this\.__wbg_ptr/.test(scoped)) {
    throw new Error('wasm-bindgen glue changed: an unscoped finalizer is left; update scripts/build.mjs');
  }
  return scoped;
}

function bindgen(bin, input, outName) {
  const out = join(WORK, outName);
  rmSync(out, { recursive: true, force: true });
  // --omit-default-module-path: the wrappers always pass the compiled module, and the glue's default
  // `new URL('<name>_bg.wasm', import.meta.url)` would make webpack 5 look for a file the package
  // does not ship (the lite wasm is inlined).
  run(bin, ['--target', 'web', '--no-typescript', '--omit-default-module-path', '--out-dir', out, '--out-name', outName, join(WORK, input)]);
  return out;
}

function wasmOpt(input, output) {
  run(join(ROOT, 'node_modules', '.bin', 'wasm-opt'), ['-Oz', ...WASM_FEATURES, '--strip-debug', '--strip-producers', '--strip-target-features', input, '-o', output]);
}

export function sizes(path) {
  const bytes = readFileSync(path);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, brotli: brotliCompressSync(bytes).length };
}

export function build({ force = false } = {}) {
  if (!force && !isStale()) {
    log('dist/ is up to date');
    return;
  }
  const t0 = Date.now();
  ensureNodeModules();
  ensureRustWasmTarget();
  const bin = wasmBindgen();
  const chain = toolchain();
  if (chain === 'nightly') ensureNightlyParts();
  mkdirSync(WORK, { recursive: true });
  mkdirSync(DIST, { recursive: true });
  log(`building the engine wasm with ${chain} (release, tract inside; 4-8 min cold) ...`);
  cargoWasm('inference', 'full.wasm', chain);
  log('building the lite wasm (list quotes only) ...');
  cargoWasm(null, 'lite-raw.wasm', chain);

  const full = bindgen(bin, 'full.wasm', 'pricelet');
  wasmOpt(join(full, 'pricelet_bg.wasm'), join(DIST, 'pricelet_bg.wasm'));
  writeFileSync(join(DIST, 'pricelet.js'), scopeFinalizers(allowReinit(readFileSync(join(full, 'pricelet.js'), 'utf8'))));

  const lite = bindgen(bin, 'lite-raw.wasm', 'lite');
  wasmOpt(join(lite, 'lite_bg.wasm'), join(WORK, 'lite.opt.wasm'));
  writeFileSync(join(DIST, 'lite.js'), readFileSync(join(lite, 'lite.js'), 'utf8'));
  const liteB64 = readFileSync(join(WORK, 'lite.opt.wasm')).toString('base64');
  writeFileSync(join(DIST, 'lite-wasm.js'), `// Generated by scripts/build.mjs: the lite wasm, inlined so it can be compiled synchronously.\nexport default ${JSON.stringify(liteB64)};\n`);

  const s = sizes(join(DIST, 'pricelet_bg.wasm'));
  const l = sizes(join(WORK, 'lite.opt.wasm'));
  const rustc = output('rustc', chain === 'nightly' ? ['+nightly', '--version'] : ['--version']);
  writeFileSync(join(DIST, 'build-info.json'), `${JSON.stringify({ toolchain: chain, rustc, engine: s, lite: l }, null, 2)}\n`);
  writeFileSync(STAMP, inputsHash());
  log(`built in ${((Date.now() - t0) / 1000).toFixed(0)} s: pricelet_bg.wasm ${s.raw} B raw, ${s.gzip} B gzip, ${s.brotli} B brotli; lite ${l.raw} B raw, ${l.gzip} B gzip`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    build({ force: process.argv.includes('--force') });
  } catch (e) {
    log(e.message);
    process.exit(1);
  }
}
