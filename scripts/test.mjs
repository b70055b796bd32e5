// `npm test`: every test, on a fresh machine, set-up included (npm deps, the wasm target, the pinned
// wasm-bindgen CLI, Chromium). Each layer runs as its own step so a red run names the layer.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, ensureNodeModules, ensureRustWasmTarget, log, run } from './setup.mjs';
import { checkBudget } from './budget.mjs';

/** Every x86-64 feature tract dispatches on, removed: its portable kernels only. */
const GENERIC_KERNELS = '-avx,-avx2,-fma,-f16c,-avx512f,-avx512vnni,-avx512fp16,-avxvnni,-amx-int8,-amx-bf16';

const steps = [];

function step(name, fn) {
  const t0 = Date.now();
  log(`▶ ${name}`);
  fn();
  steps.push([name, (Date.now() - t0) / 1000]);
}

async function asyncStep(name, fn) {
  const t0 = Date.now();
  log(`▶ ${name}`);
  await fn();
  steps.push([name, (Date.now() - t0) / 1000]);
}

/** `npm run build` in a child process, its output to `logFile`; resolves with its exit code. */
function startPackageBuild(logFile) {
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return new Promise((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('exit', (code, signal) => resolve(code ?? signal));
  });
}

try {
  step('set-up (npm ci if needed)', ensureNodeModules);
  // The package build (wasm32, its own target dir) runs beside `cargo test`: on 2 cores the two long
  // compiles overlap their single-threaded link/LTO tails, which saves minutes on a fresh machine.
  mkdirSync(join(ROOT, 'target'), { recursive: true });
  const buildLog = join(ROOT, 'target', 'package-build.log');
  const buildDone = startPackageBuild(buildLog);
  step('format: cargo fmt --all --check', () => run('cargo', ['fmt', '--all', '--check']));
  step('architecture: the crates\' dependency rules (scripts/architecture.mjs)', () => run(process.execPath, [join('scripts', 'architecture.mjs')]));
  step('code rules: JSON only in the wire layer, typed errors, files of one concern (scripts/code-rules.mjs)', () => run(process.execPath, [join('scripts', 'code-rules.mjs')]));
  step('Rust: cargo test --workspace (unit, properties, parity, CLI, fuzz corpus)', () => run('cargo', ['test', '--workspace', '--locked']));
  // tract picks its matrix kernels by CPU features; the same tests on its generic kernels prove that
  // none of them depends on this machine's (AVX2, AVX-512, ...) rounding.
  step('Rust: the tests again on tract\'s generic kernels (TRACT_CPU_ISA)', () => run('cargo', ['test', '--workspace', '--locked', '--tests'], { env: { TRACT_CPU_ISA: GENERIC_KERNELS } }));
  step('lint: cargo clippy --workspace --all-targets -D warnings', () => run('cargo', ['clippy', '--workspace', '--all-targets', '--locked', '--', '-D', 'warnings']));
  step('core alone, without tract or JS, for wasm32 (the lite path)', () => ensureRustWasmTarget() ?? run('cargo', ['build', '-p', 'pricelet', '--lib', '--locked', '--target', 'wasm32-unknown-unknown']));
  // The binding compiles for wasm32 only, so the workspace's clippy above never sees it.
  for (const features of ['server', 'lite']) {
    const args = features === 'lite' ? ['--no-default-features', '--features', 'lite'] : ['--features', features];
    step(`lint: the binding for wasm32 (${features})`, () => run('cargo', ['clippy', '-p', 'pricelet-wasm', '--target', 'wasm32-unknown-unknown', '--locked', ...args, '--', '-D', 'warnings']));
  }
  await asyncStep('wasm modules: device, server, lite (npm run build, when stale; beside the steps above)', async () => {
    const code = await buildDone;
    process.stderr.write(readFileSync(buildLog, 'utf8'));
    if (code !== 0) throw new Error(`the package build failed (${code}); its output is above and in ${buildLog}`);
  });
  step('wasm size budget (scripts/budget.json)', () => {
    const info = JSON.parse(readFileSync(join(ROOT, 'dist', 'build-info.json'), 'utf8'));
    for (const line of checkBudget(info)) log(line);
  });
  const suites = readdirSync(join(ROOT, 'tests', 'js')).filter((f) => f.endsWith('.test.mjs')).sort();
  for (const suite of suites) {
    step(`JS: ${suite}`, () => run(process.execPath, ['--test', '--test-reporter=spec', join('tests', 'js', suite)]));
  }
} catch (e) {
  log(`FAILED: ${e.message}`);
  process.exitCode = 1;
}
log('timings:');
for (const [name, s] of steps) log(`  ${s.toFixed(1).padStart(7)} s  ${name}`);
