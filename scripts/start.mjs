// `npm start`: builds what is stale, then serves the demo storefront (www/) on 127.0.0.1, port 8080
// or the next free one, with the built package at /node_modules/pricelet/ — its published files
// only, as a user's static site would have it — compressed and with cache headers, as a CDN serves it.
import { join } from 'node:path';
import { build } from './build.mjs';
import { ROOT, log } from './setup.mjs';
import { serveStatic } from './serve.mjs';

export const PACKAGE_FILES = ['js/', 'dist/pricelet.js', 'dist/pricelet_bg.wasm', 'dist/lite.js', 'dist/lite-wasm.js', 'models/interest.onnx', 'models/interest-behaviour.onnx', 'models/uplift.onnx', 'policy/default.json', 'package.json'];

export function storefrontMounts() {
  return {
    '/': join(ROOT, 'www'),
    '/node_modules/pricelet/': { root: ROOT, only: PACKAGE_FILES },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    build();
    const port = Number(process.env.PORT ?? 8080);
    log('compressing the files as a CDN would (brotli 11 and gzip, once per file version; cached in target/serve-cache) ...');
    const server = await serveStatic({ mounts: storefrontMounts(), scanFrom: port, cdn: true });
    log(`demo storefront: ${server.url}/  (Ctrl-C to stop)`);
    console.log(`${server.url}/`);
    const stop = async () => { await server.close(); process.exit(0); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    log(e.message);
    process.exit(1);
  }
}
