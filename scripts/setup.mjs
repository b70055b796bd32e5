// Idempotent machine set-up shared by `npm start`, `npm test` and `npm run build`: everything a fresh
// Debian machine with Rust and Node needs, installed only when missing. Uses Node built-ins only, so
// it runs before `npm ci` has.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const WASM_BINDGEN_VERSION = '0.2.130';
const CARGO_BIN = join(process.env.CARGO_HOME ?? join(homedir(), '.cargo'), 'bin');

export function log(msg) {
  process.stderr.write(`[pricelet] ${msg}\n`);
}

/** Runs a command with inherited output; throws with the command line on failure. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts, env: { ...process.env, ...opts.env } });
  if (r.status !== 0) {
    throw new Error(`command failed (${r.status ?? r.signal}): ${cmd} ${args.join(' ')}`);
  }
}

/** Output of a command, or null if it is missing or fails. */
export function output(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], ...opts }).toString().trim();
  } catch {
    return null;
  }
}

export function ensureNodeModules() {
  // A machine that installed before a dependency was added (e.g. uplot for the console) installs again.
  const wanted = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies ?? {});
  if (existsSync(join(ROOT, 'node_modules', '.package-lock.json')) && wanted.every((name) => existsSync(join(ROOT, 'node_modules', name, 'package.json')))) return;
  log('installing npm dependencies (npm ci) ...');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

export function ensureRustWasmTarget() {
  const installed = output('rustup', ['target', 'list', '--installed']) ?? '';
  if (installed.split('\n').includes('wasm32-unknown-unknown')) return;
  log('adding the Rust wasm32-unknown-unknown target ...');
  run('rustup', ['target', 'add', 'wasm32-unknown-unknown']);
}

/** The wasm-bindgen CLI must equal the crate version exactly (Cargo.toml pins `=0.2.130`). */
export function wasmBindgen() {
  for (const bin of ['wasm-bindgen', join(CARGO_BIN, 'wasm-bindgen')]) {
    if (output(bin, ['--version']) === `wasm-bindgen ${WASM_BINDGEN_VERSION}`) return bin;
  }
  log(`installing wasm-bindgen-cli ${WASM_BINDGEN_VERSION} (cargo install, about 4 minutes, once) ...`);
  run('cargo', ['install', 'wasm-bindgen-cli', '--version', WASM_BINDGEN_VERSION]);
  return join(CARGO_BIN, 'wasm-bindgen');
}

export const CHROMIUM = process.env.PRICELET_CHROMIUM ?? '/usr/bin/chromium';

/** Debian's Chromium for the browser tests (Playwright's own download does not work offline). */
export function ensureChromium() {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && existsSync('/usr/bin/apt-get')) {
    log('installing Debian chromium (apt-get install -y chromium) ...');
    const r = spawnSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'inherit' });
    if (r.status !== 0) {
      run('apt-get', ['update']);
      run('apt-get', ['install', '-y', 'chromium']);
    }
    if (existsSync(CHROMIUM)) return CHROMIUM;
  }
  throw new Error(
    `Chromium is missing at ${CHROMIUM}. Install it with \`sudo apt-get install -y chromium\` ` +
      '(Debian/Ubuntu), or set PRICELET_CHROMIUM to a Chromium/Chrome binary, then run npm test again.',
  );
}
