// The Worker's build: stage its static assets (the storefront and the package's published files,
// exactly what `npm start` serves) and the merchant console (scripts/console.mjs), and bundle it with
// `wrangler deploy --dry-run` (offline).
import { cpSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from './build.mjs';
import { buildConsole } from './console.mjs';
import { ROOT, log, run } from './setup.mjs';
import { PACKAGE_FILES } from './start.mjs';

export const WORKER = join(ROOT, 'worker');
export const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
/** wrangler contacts the network unless told not to. */
export const WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true', CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false', WRANGLER_LOG_PATH: join(ROOT, 'target', 'wrangler-logs'),
};

export function stageAssets() {
  const pub = join(WORKER, 'dist', 'public');
  rmSync(pub, { recursive: true, force: true });
  cpSync(join(ROOT, 'www'), pub, { recursive: true });
  for (const f of PACKAGE_FILES) {
    const to = join(pub, 'node_modules', 'pricelet', f);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(join(ROOT, f), to, { recursive: true });
  }
  return pub;
}

/** How Miniflare loads the modules of `bundleWorker`'s output (as wrangler's rules do at deploy). */
export const BUNDLE_RULES = [
  { type: 'ESModule', include: ['**/*.js'] },
  { type: 'CompiledWasm', include: ['**/*.wasm'] },
  { type: 'Data', include: ['**/*.onnx', '**/*.bin'] },
];

/** Bundles the Worker as `wrangler deploy` would upload it; returns the output folder. */
export function bundleWorker(outdir = join(WORKER, 'dist', 'bundle')) {
  build();
  buildConsole();
  stageAssets();
  rmSync(outdir, { recursive: true, force: true });
  run(WRANGLER, ['deploy', '--dry-run', '--outdir', outdir, '--config', join(WORKER, 'wrangler.jsonc')], { env: WRANGLER_ENV });
  return outdir;
}

export function folderSize(dir) {
  const st = statSync(dir);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const f of readdirSync(dir)) total += folderSize(join(dir, f));
  return total;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const out = bundleWorker();
    log(`worker bundle: ${out} (${folderSize(out)} B)`);
  } catch (e) {
    log(e.message);
    process.exit(1);
  }
}
