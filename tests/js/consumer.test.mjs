// The package as a user gets it: `npm pack`, install the tarball into a temp project outside the
// repo (with the bundler versions pinned in tests/consumer-app/), then (a) Node ESM import and
// price, (b) esbuild, Vite and webpack 5 browser bundles priced in headless Chromium, (c) `tsc
// --noEmit` on a TypeScript consumer, (d) the Worker quickstart in workerd.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../../scripts/setup.mjs';
import { serveStatic } from '../../scripts/serve.mjs';
import { launch } from './browser.mjs';
import { Miniflare } from 'miniflare';
import { WRANGLER, WRANGLER_ENV } from '../../scripts/worker.mjs';
import { createPricer } from '../../js/node.js';

const ITEM = { id: 'sneaker-1', price: '89.99', currency: 'EUR', category: 'shoes', cost: '30.00' };
let dir;
let pkg;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pricelet-consumer-'));
  // --ignore-scripts: dist/ is already built by the test run; prepack would only re-check it.
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT }).toString();
  const [info] = JSON.parse(out);
  const tarball = join(dir, info.filename);
  const files = info.files.map((f) => f.path);
  for (const f of ['dist/pricelet_bg.wasm', 'dist/pricelet.js', 'dist/lite-wasm.js', 'js/index.d.ts', 'js/workerd.js', 'models/interest.onnx', 'policy/default.json']) {
    assert.ok(files.includes(f), `tarball lacks ${f}`);
  }
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('target/') || f.endsWith('.csv')), 'no sources, build dirs or data in the tarball');
  console.log(`# tarball ${info.filename}: ${info.size} B packed, ${info.unpackedSize} B unpacked, ${files.length} files`);
  const app = join(dir, 'app');
  mkdirSync(app);
  // The consumer project pins its bundlers (Vite, webpack 5 + webpack-cli) with a lockfile of its own.
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, 'tests', 'consumer-app', f), join(app, f));
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, stdio: 'ignore' });
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', '--no-save', tarball], { cwd: app, stdio: 'ignore' });
  pkg = join(app, 'node_modules', 'pricelet');
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('(a) Node ESM: import { createPricer } from "pricelet" and price', () => {
  const app = join(dir, 'app');
  writeFileSync(join(app, 'node-consumer.mjs'), `
    import { createPricer, listQuote } from 'pricelet';
    const early = listQuote(${JSON.stringify(ITEM)});
    const pricer = await createPricer({ consent: 'granted', anonId: 'consumer-1' });
    pricer.track({ type: 'page_view', page: { kind: 'product', id: 'sneaker-1', pageValue: 25 } });
    const q = pricer.priceFor(${JSON.stringify(ITEM)});
    console.log(JSON.stringify({ early, q, status: pricer.status.model.state }));
  `);
  const { early, q, status } = JSON.parse(execFileSync(process.execPath, ['node-consumer.mjs'], { cwd: app }).toString());
  assert.equal(status, 'ready', 'the bundled model loads from the installed package');
  assert.equal(early.priceMinor, 8999);
  assert.equal(q.listPriceMinor, 8999);
  assert.equal(q.discountMinor, q.listPriceMinor - q.priceMinor);
  assert.equal(typeof q.interest, 'number');
});

test('README: the Node quickstart runs verbatim against the installed package', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- verified by tests/js/consumer.test.mjs');
  assert.ok(marker > 0, 'README marks its Node quickstart');
  const block = readme.slice(marker).match(/```js\n([\s\S]*?)```/)[1];
  const app = join(dir, 'app');
  writeFileSync(join(app, 'readme-quickstart.mjs'), block);
  const out = execFileSync(process.execPath, ['readme-quickstart.mjs'], { cwd: app }).toString();
  assert.match(out, /^\d+ (personalized|control|explore|no_feasible_price)\n/);
  assert.match(out, /ok: true/);
});

test('(b) esbuild browser bundle priced in headless Chromium', async () => {
  const app = join(dir, 'app');
  const web = join(app, 'public');
  mkdirSync(web, { recursive: true });
  writeFileSync(join(app, 'main.js'), `
    import { createPricer, listQuote } from 'pricelet';
    const item = ${JSON.stringify(ITEM)};
    document.body.dataset.early = JSON.stringify(listQuote(item));
    const pricer = await createPricer({ wasm: '/pricelet_bg.wasm', model: '/interest.onnx', consent: 'granted' });
    pricer.track({ type: 'page_view', page: { kind: 'product', id: 'sneaker-1', pageValue: 25 } });
    document.body.dataset.quote = JSON.stringify(pricer.priceFor(item));
    document.body.dataset.status = JSON.stringify(pricer.status);
  `);
  execFileSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), ['main.js', '--bundle', '--format=esm', '--platform=browser',
    `--outfile=${join(web, 'bundle.js')}`, '--log-level=warning'], { cwd: app });
  const bundle = readFileSync(join(web, 'bundle.js'), 'utf8');
  assert.doesNotMatch(bundle, /node:fs|readFile\(/, 'the browser condition resolved to the web entry');
  copyFileSync(join(pkg, 'dist', 'pricelet_bg.wasm'), join(web, 'pricelet_bg.wasm'));
  copyFileSync(join(pkg, 'models', 'interest.onnx'), join(web, 'interest.onnx'));
  writeFileSync(join(web, 'index.html'), '<!doctype html><meta charset="utf-8"><title>consumer</title><script type="module" src="/bundle.js"></script>');
  const server = await serveStatic({ mounts: { '/': web } });
  const browser = await launch();
  try {
    const page = await browser.context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => document.body.dataset.quote || document.body.dataset.error, null, { timeout: 20000 });
    assert.deepEqual(errors, []);
    const quote = JSON.parse(await page.evaluate(() => document.body.dataset.quote));
    const status = JSON.parse(await page.evaluate(() => document.body.dataset.status));
    const early = JSON.parse(await page.evaluate(() => document.body.dataset.early));
    assert.equal(status.model.state, 'ready');
    assert.equal(status.persistence, 'storage', 'localStorage is the browser default');
    assert.equal(quote.listPriceMinor, 8999);
    assert.equal(early.reason, 'list');
    assert.equal(typeof quote.interest, 'number');
  } finally {
    await browser.close();
    await server.close();
  }
});

/** The app every bundler builds: the README's bundler quickstart, verbatim. */
function bundlerQuickstart() {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- verified by tests/js/consumer.test.mjs (bundlers)');
  assert.ok(marker > 0, 'README marks its bundler quickstart');
  return readme.slice(marker).match(/```js\n([\s\S]*?)```/)[1];
}

/** Runs a bundler of the consumer project; on failure the error carries what it printed. */
function bundle(bin, args, cwd) {
  try {
    execFileSync(join(dir, 'app', 'node_modules', '.bin', bin), args, { cwd, stdio: 'pipe' });
  } catch (e) {
    throw new Error(`${bin} ${args.join(' ')} failed:\n${e.stdout}\n${e.stderr}`);
  }
}

/** Serves `root`, opens it in Chromium, and checks what the quickstart logged: a quote priced with the model. */
async function pricesInChromium(root, name) {
  const server = await serveStatic({ mounts: { '/': root } });
  const browser = await launch();
  try {
    const page = await browser.context.newPage();
    const errors = [];
    const logged = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => logged.push(m.text()));
    await page.goto(`${server.url}/`);
    for (let i = 0; i < 300 && !logged.some((l) => l.startsWith('quote ')) && errors.length === 0; i += 1) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(errors, [], `${name}: no page errors`);
    assert.ok(logged.includes('list price 89.99'), `${name}: listQuote before the engine (${logged})`);
    const line = logged.find((l) => l.startsWith('quote '));
    assert.ok(line, `${name}: the page priced the item (${logged})`);
    const [, price, reason, modelState] = line.split(' ');
    assert.equal(modelState, 'ready', `${name}: the bundled model loaded`);
    assert.ok(['personalized', 'control', 'explore', 'no_feasible_price'].includes(reason), `${name}: reason ${reason}`);
    assert.ok(Number(price) > 0 && Number(price) <= 89.99, `${name}: price ${price}`);
    const fetched = server.requests.map((r) => r.url);
    assert.ok(fetched.some((u) => u.endsWith('.wasm')), `${name}: the engine came from the build output`);
    assert.ok(fetched.some((u) => u.endsWith('.onnx')), `${name}: the model came from the build output`);
  } finally {
    await browser.close();
    await server.close();
  }
}

test('(b) Vite: a default `vite build` of the app prices a personalized quote in Chromium', async () => {
  const app = join(dir, 'app', 'vite');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'src', 'index.js'), bundlerQuickstart());
  writeFileSync(join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><title>vite consumer</title><script type="module" src="/src/index.js"></script>');
  bundle('vite', ['build', '--logLevel', 'warn'], app);
  await pricesInChromium(join(app, 'dist'), 'vite');
});

test('(b) webpack 5: a default `webpack --mode production` of the app prices a personalized quote in Chromium', async () => {
  const app = join(dir, 'app', 'webpack');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'src', 'index.js'), bundlerQuickstart());
  bundle('webpack', ['--mode', 'production'], app);
  writeFileSync(join(app, 'dist', 'index.html'), '<!doctype html><meta charset="utf-8"><title>webpack consumer</title><script defer src="main.js"></script>');
  await pricesInChromium(join(app, 'dist'), 'webpack');
});

test('(d) workerd: the README Worker quickstart, bundled by wrangler and run in Miniflare', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quickstart: Cloudflare Workers'));
  const code = section.match(/```js\n([\s\S]*?)```/)[1];
  const app = join(dir, 'app');
  const wdir = join(app, 'edge');
  mkdirSync(wdir, { recursive: true });
  writeFileSync(join(wdir, 'index.js'), code);
  writeFileSync(join(wdir, 'wrangler.jsonc'), JSON.stringify({
    name: 'consumer-edge', main: 'index.js', compatibility_date: '2025-06-01',
    rules: [{ type: 'Data', globs: ['**/*.onnx'], fallthrough: true }],
  }));
  const out = join(wdir, 'out');
  execFileSync(WRANGLER, ['deploy', '--dry-run', '--outdir', out, '--config', join(wdir, 'wrangler.jsonc')], { cwd: wdir, env: { ...process.env, ...WRANGLER_ENV }, stdio: 'pipe' });
  const bundle = readFileSync(join(out, 'index.js'), 'utf8');
  assert.match(bundle, /node_modules\/pricelet\/js\/workerd\.js/, 'resolved through the installed package\'s workerd condition');
  const mf = new Miniflare({
    modules: true, scriptPath: join(out, 'index.js'), modulesRoot: out, compatibilityDate: '2025-06-01', host: '127.0.0.1', port: 0, cf: false,
    modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }, { type: 'Data', include: ['**/*.onnx'] }],
  });
  try {
    const device = await createPricer({ consent: 'granted', anonId: 'shopper-7' });
    device.track({ type: 'page_view', page: { kind: 'product', id: 'sneaker-1', pageValue: 25 } });
    const res = await mf.dispatchFetch('http://localhost/', { method: 'POST', body: JSON.stringify(device.edgeRequest([ITEM])) });
    const { quotes } = await res.json();
    assert.equal(res.status, 200);
    assert.equal(quotes[0].listPriceMinor, 8999);
    assert.equal(quotes[0].modelVersion, device.status.model.info.version, 'the Worker loaded the packaged model');
  } finally {
    await mf.dispose();
  }
});

test('(c) tsc --noEmit on a TypeScript consumer', () => {
  const app = join(dir, 'app');
  writeFileSync(join(app, 'consumer.ts'), `
    import { createPricer, listQuote, quoteBeforeReady, toCheckout, verifyQuote, type Quote, type Item, type Pricer, type PriceletError } from 'pricelet';
    const item: Item = { id: 'a', price: '9.99', currency: 'EUR' };
    const early: Quote = listQuote(item);
    const storage = { load: () => null, save: (_s: string) => {} };
    const shown: Quote = quoteBeforeReady(item, { storage, stabilityTtlMs: 60_000 });
    async function main(): Promise<number> {
      const pricer: Pricer = await createPricer({ consent: 'unknown', storage });
      const kept: boolean = pricer.adoptQuote(item, shown);
      const text: string = pricer.priceFromFeatures('{"items":[]}', { json: true });
      const parsed = pricer.priceFromFeatures({ items: [] });
      void kept; void text; void parsed.length;
      const q = pricer.priceFor(item);
      const slots = pricer.pricesFor([item]);
      for (const s of slots) { if ('error' in s) { const code: string = s.error.code; void code; } else { const m: number = s.priceMinor; void m; } }
      const v = await verifyQuote(toCheckout(q), item, null, { keys: { k1: 'secret' } });
      try { pricer.track({ type: 'page_view', page: { kind: 'product' }, dwellMs: 1200 }); } catch (e) { const err = e as PriceletError; void err.code; }
      pricer.free();
      return v.ok ? q.priceMinor : early.priceMinor;
    }
    void main;
  `);
  writeFileSync(join(app, 'bad.ts'), `
    import { createPricer } from 'pricelet';
    export const p = createPricer({ consent: 'maybe' });
  `);
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', '--skipLibCheck', 'false'];
  execFileSync(tsc, [...flags, 'consumer.ts'], { cwd: app, stdio: 'pipe' });
  // The declarations are strict enough to reject a wrong option value.
  assert.throws(() => execFileSync(tsc, [...flags, 'bad.ts'], { cwd: app, stdio: 'pipe' }), (e) => /'"maybe"' is not assignable to type 'Consent/.test(e.stdout.toString()));
});
