// Builds the package's generated files into dist/, from the one binding crate (crates/pricelet-wasm)
// with three feature sets (docs/architecture.md):
//   pricelet_bg.wasm, pricelet.js                 the device engine (tract inside): the browser entry
//   pricelet_server_bg.wasm, pricelet_server.js   the device engine plus the server-side exports
//                                                 (tallies, estimates, signing, edge pricing): node, workerd
//   lite.js, lite-wasm.js                         the list-price wasm (no tract), its bytes inlined, for a
//                                                 synchronous listQuote() before the engine has loaded
// The glue is wasm-bindgen's own, with its reset-state function so an engine reset can re-instantiate.
// Skips the work when nothing it reads has changed (dist/.build-stamp). `--force` rebuilds.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { ROOT, WASM_BINDGEN_VERSION, ensureNodeModules, ensureRustWasmTarget, log, output, run, wasmBindgen } from './setup.mjs';

const DIST = join(ROOT, 'dist');
const WORK = join(ROOT, 'target', 'pricelet-build');
const STAMP = join(DIST, '.build-stamp');
const INPUTS = ['Cargo.toml', 'Cargo.lock', '.cargo', 'src', 'crates/pricelet-wasm', 'crates/pricelet-onnx', 'crates/pricelet-measure', 'models/features.json', 'policy/default.json', 'scripts/build.mjs'];
/** The three modules: [feature set, glue name]. */
export const MODULES = { device: ['device', 'pricelet'], server: ['server', 'pricelet_server'], lite: ['lite', 'lite'] };
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
  const outputs = ['pricelet_bg.wasm', 'pricelet.js', 'pricelet_server_bg.wasm', 'pricelet_server.js', 'lite.js', 'lite-wasm.js'].map((f) => join(DIST, f));
  return !outputs.every(existsSync) || !existsSync(STAMP) || readFileSync(STAMP, 'utf8') !== inputsHash();
}

// The size build: nightly rebuilds std with panic=immediate-abort and without panic
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
  // `cargo rustc --crate-type cdylib` so LTO applies to the wasm (cargo#9672).
  const common = ['rustc', '-p', 'pricelet-wasm', '--lib', '--profile', 'wasm-release', '--target', 'wasm32-unknown-unknown',
    '--no-default-features', '--features', features, '--crate-type', 'cdylib'];
  let dir = join(ROOT, 'target');
  if (chain === 'nightly') {
    dir = join(ROOT, 'target', 'nightly');
    run('cargo', ['+nightly', ...common, '-Z', 'build-std=std,panic_abort', '--target-dir', dir], { env: { RUSTFLAGS: SIZE_RUSTFLAGS } });
  } else {
    run('cargo', common);
  }
  copyFileSync(join(dir, 'wasm32-unknown-unknown', 'wasm-release', 'pricelet_wasm.wasm'), join(WORK, outName));
}

function bindgen(bin, input, outName, resettable) {
  const out = join(WORK, outName);
  rmSync(out, { recursive: true, force: true });
  // --omit-default-module-path: the wrappers always pass the compiled module, and the glue's default
  // `new URL('<name>_bg.wasm', import.meta.url)` would make webpack 5 look for a file the package
  // does not ship (the lite wasm is inlined).
  // --experimental-reset-state-function: after a trap the wrapper calls the glue's
  // `__wbg_reset_state()`, which re-instantiates from the module it kept; objects and finalizers
  // of the dead instance are tied to it and never touch the new one (tests/js/package.test.mjs).
  run(bin, ['--target', 'web', '--no-typescript', '--omit-default-module-path', ...(resettable ? ['--experimental-reset-state-function'] : []),
    '--out-dir', out, '--out-name', outName, join(WORK, input)]);
  const glue = readFileSync(join(out, `${outName}.js`), 'utf8');
  if (resettable && !glue.includes('export function __wbg_reset_state')) {
    throw new Error(`wasm-bindgen ${WASM_BINDGEN_VERSION} gave no __wbg_reset_state(); the engine reset needs it`);
  }
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
  const info = { toolchain: chain, rustc: output('rustc', chain === 'nightly' ? ['+nightly', '--version'] : ['--version']) };
  for (const [name, [features, glueName]] of Object.entries(MODULES)) {
    log(`building the ${name} wasm with ${chain} (release${name === 'lite' ? '' : ', tract inside; 3-6 min cold'}) ...`);
    cargoWasm(features, `${name}.wasm`, chain);
    const out = bindgen(bin, `${name}.wasm`, glueName, name !== 'lite');
    const opt = name === 'lite' ? join(WORK, 'lite.opt.wasm') : join(DIST, `${glueName}_bg.wasm`);
    wasmOpt(join(out, `${glueName}_bg.wasm`), opt);
    writeFileSync(join(DIST, `${glueName}.js`), readFileSync(join(out, `${glueName}.js`), 'utf8'));
    if (name === 'lite') {
      const b64 = readFileSync(opt).toString('base64');
      writeFileSync(join(DIST, 'lite-wasm.js'), `// Generated by scripts/build.mjs: the lite wasm, inlined so it can be compiled synchronously.\nexport default ${JSON.stringify(b64)};\n`);
    }
    info[name] = sizes(opt);
  }
  writeFileSync(join(DIST, 'build-info.json'), `${JSON.stringify(info, null, 2)}\n`);
  writeFileSync(STAMP, inputsHash());
  const line = (n) => `${n} ${info[n].raw} B raw, ${info[n].gzip} B gzip, ${info[n].brotli} B brotli`;
  log(`built in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${Object.keys(MODULES).map(line).join('; ')}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    build({ force: process.argv.includes('--force') });
  } catch (e) {
    log(e.message);
    process.exit(1);
  }
}
