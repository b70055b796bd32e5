// `npm test`: every test, on a fresh machine, set-up included (npm deps, the wasm target, the pinned
// wasm-bindgen CLI, Chromium). Each layer runs as its own step so a red run names the layer.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, ensureNodeModules, log, run } from './setup.mjs';

const BUDGET_GZIP = 1_900_000;
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
  step('Rust core: cargo test (unit, properties, parity, CLI)', () => run('cargo', ['test', '--locked']));
  await asyncStep('wasm32 build of the core + package build (npm run build, when stale; beside cargo test)', async () => {
    const code = await buildDone;
    process.stderr.write(readFileSync(buildLog, 'utf8'));
    if (code !== 0) throw new Error(`the package build failed (${code}); its output is above and in ${buildLog}`);
  });
  step('wasm size', () => {
    const info = JSON.parse(readFileSync(join(ROOT, 'dist', 'build-info.json'), 'utf8'));
    const e = info.engine;
    const within = e.gzip <= BUDGET_GZIP;
    log(`dist/pricelet_bg.wasm (${info.toolchain}): ${e.raw} B raw, ${e.gzip} B gzip, ${e.brotli} B brotli — ` +
      `${within ? 'within' : 'OVER'} the ${BUDGET_GZIP} B gzip budget; lite ${info.lite.gzip} B gzip`);
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
