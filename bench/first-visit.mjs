// `npm run bench:first-visit`: the demo storefront as a storefront's performance team judges a
// script — headless Chromium driven through the DevTools protocol, CPU throttled 1× and 4× (4× is
// Lighthouse's mobile run), served as `npm start` serves it (brotli, cache headers). Each run is a
// first visit in a fresh profile, then a return visit in the same profile (HTTP cache and V8's
// caches warm). From the page's own performance marks and a `longtask` observer installed before
// any script runs: list prices on screen, engine ready, Total Blocking Time and the longest task up
// to engine ready + 1 s, price texts that changed after they were first shown, bytes on the wire.
// `--trace` also records a DevTools trace of one 4× first visit and prints where the main thread's
// time went (wasm compilation vs execution vs the rest). Not part of `npm test`: a measurement.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from '../scripts/build.mjs';
import { serveStatic } from '../scripts/serve.mjs';
import { ROOT } from '../scripts/setup.mjs';
import { storefrontMounts } from '../scripts/start.mjs';
import { launch } from '../tests/js/browser.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const THROTTLES = (process.env.CPU_THROTTLES ?? '1,4').split(',').map(Number);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const range = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

/** Installed before any page script: long tasks, and every change of an item's shown price text. */
function observe() {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
  window.__priceChanges = [];
  const shown = new Map();
  const scan = () => {
    for (const el of document.querySelectorAll('[data-item-id]')) {
      const text = el.querySelector('.price')?.textContent;
      if (!text) continue;
      const id = el.dataset.itemId;
      if (shown.has(id) && shown.get(id) !== text) window.__priceChanges.push({ id, from: shown.get(id), to: text, at: performance.now() });
      shown.set(id, text);
    }
  };
  new MutationObserver(scan).observe(document, { subtree: true, childList: true, characterData: true });
}

async function measure(page, cdp) {
  let wire = 0;
  const onFinished = (e) => { wire += e.encodedDataLength; };
  cdp.on('Network.loadingFinished', onFinished);
  await page.goto(page.__url);
  await page.waitForFunction(() => document.getElementById('engine-status')?.dataset.state !== 'loading', null, { timeout: 120_000 });
  const state = await page.evaluate(() => document.getElementById('engine-status').dataset.state);
  if (state !== (page.__blocked ? 'unavailable' : 'ready')) throw new Error(`the engine did not start: ${state}`);
  await page.waitForTimeout(1000); // tasks right after ready count too
  cdp.off('Network.loadingFinished', onFinished);
  const { marks, tasks, changes } = await page.evaluate(() => ({
    marks: Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime])),
    tasks: window.__longTasks,
    changes: window.__priceChanges,
  }));
  // Without pricelet the page marks no engine; its window ends when the page has rendered.
  const ready = marks['pricelet:engine-ready'] ?? marks['pricelet:list-prices'];
  const window_ = tasks.filter(([start]) => start <= ready + 1000);
  return {
    listMs: marks['pricelet:list-prices'],
    readyMs: ready,
    tbtMs: window_.reduce((sum, [, d]) => sum + Math.max(0, d - 50), 0),
    longestMs: window_.reduce((m, [, d]) => Math.max(m, d), 0),
    changes: changes.length,
    wireKB: wire / 1024,
  };
}

/** A fresh profile at `throttle`: its page, a CDP session on it, and the browser. */
async function session(url, throttle, { blocked = false } = {}) {
  const browser = await launch();
  await browser.context.addInitScript(observe);
  // The page alone: every file of the package refused, as if pricelet were not on it.
  if (blocked) await browser.context.route('**/node_modules/pricelet/**', (route) => route.abort());
  const page = browser.context.pages()[0] ?? await browser.context.newPage();
  Object.assign(page, { __url: url, __blocked: blocked });
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
  return { browser, page, cdp };
}

/** A first visit and a return visit in a fresh profile, and the page without pricelet, at `throttle`. */
async function visits(url, throttle) {
  const s = await session(url, throttle);
  let first;
  let again;
  try {
    first = await measure(s.page, s.cdp);
    await s.page.goto('about:blank');
    await s.page.waitForTimeout(2500); // V8 writes its wasm code cache a couple of seconds after tier-up
    again = await measure(s.page, s.cdp);
  } finally {
    await s.browser.close();
  }
  const b = await session(url, throttle, { blocked: true });
  try {
    return { first, again, alone: await measure(b.page, b.cdp) };
  } finally {
    await b.browser.close();
  }
}

/** A DevTools trace of a 4× first visit: main-thread time by kind, up to engine ready. */
async function trace(url) {
  const browser = await launch();
  try {
    const page = browser.context.pages()[0] ?? await browser.context.newPage();
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    const events = [];
    cdp.on('Tracing.dataCollected', (e) => events.push(...e.value));
    const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
    await cdp.send('Tracing.start', { traceConfig: { includedCategories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.execute', 'v8.wasm', 'disabled-by-default-v8.wasm.detailed', 'disabled-by-default-v8.compile', 'blink.user_timing'] }, transferMode: 'ReportEvents' });
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById('engine-status')?.dataset.state === 'ready', null, { timeout: 120_000 });
    await cdp.send('Tracing.end');
    await done;
    const file = join(ROOT, 'target', 'first-visit-trace.json');
    writeFileSync(file, JSON.stringify({ traceEvents: events }));
    const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
    const ready = events.find((e) => e.name === 'pricelet:engine-ready');
    const onMain = events.filter((e) => e.ph === 'X' && main && e.pid === main.pid && e.tid === main.tid && (!ready || e.ts <= ready.ts));
    const total = (pattern) => onMain.filter((e) => pattern.test(e.name)).reduce((s, e) => s + (e.dur ?? 0), 0) / 1000;
    console.log(`\ntrace (4×, first visit, main thread up to engine ready; ${file}):`);
    for (const [what, pattern] of [['tasks', /^RunTask$/], ['wasm compilation (lazy, on the main thread)', /wasm.*[Cc]ompile|CompileLazy|LazyCompile/], ['wasm instantiation', /[Ii]nstantiate/], ['script evaluation', /^(EvaluateScript|v8\.evaluateModule|FunctionCall)$/], ['GC', /GC|MinorGC|MajorGC/]]) {
      console.log(`  ${what.padEnd(44)} ${total(pattern).toFixed(0).padStart(6)} ms`);
    }
    // Long tasks that run pricelet's wasm (compiling, instantiating, executing it).
    const taskKinds = onMain.filter((e) => /^(ThreadControllerImpl::RunTask|BlinkScheduler_PerformMicrotaskCheckpoint)$/.test(e.name) && e.dur > 50_000);
    const wasmy = taskKinds.filter((t) => onMain.some((e) => /wasm/i.test(e.name) && e.ts >= t.ts && e.ts <= t.ts + t.dur));
    console.log(`  long tasks with wasm work: ${wasmy.map((t) => `${(t.dur / 1000).toFixed(0)} ms`).join(', ') || 'none'}`);
    const top = new Map();
    for (const e of onMain) top.set(e.name, (top.get(e.name) ?? 0) + (e.dur ?? 0) / 1000);
    console.log('  largest event kinds:', [...top].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([n, d]) => `${n} ${d.toFixed(0)} ms`).join(', '));
  } finally {
    await browser.close();
  }
}

build();
const server = await serveStatic({ mounts: storefrontMounts(), cdn: true });
try {
  if (process.argv.includes('--trace')) await trace(`${server.url}/`);
  const rows = [];
  for (const throttle of THROTTLES) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await visits(`${server.url}/`, throttle));
    for (const kind of ['first', 'again', 'alone']) {
      const m = runs.map((r) => r[kind]);
      rows.push({ throttle, kind, ...Object.fromEntries(['listMs', 'readyMs', 'tbtMs', 'longestMs', 'changes', 'wireKB'].map((k) => [k, median(m.map((r) => r[k]))])), readyRange: range(m.map((r) => r.readyMs)) });
    }
  }
  console.log(`\nThe demo storefront in headless Chromium (${process.env.CHROMIUM_VERSION ?? 'Debian chromium'}), served as \`npm start\` serves it, 127.0.0.1, median of ${RUNS} (engine ready: range)\n`);
  console.log('| CPU | visit | list prices on screen | engine ready | TBT to ready + 1 s | pricelet adds | longest task | price texts changed | bytes on the wire |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  const names = { first: 'first (fresh profile)', again: 'return (same profile)', alone: 'the page without pricelet' };
  for (const r of rows) {
    const alone = rows.find((x) => x.throttle === r.throttle && x.kind === 'alone');
    const adds = r.kind === 'alone' ? '–' : `${Math.max(0, r.tbtMs - alone.tbtMs).toFixed(0)} ms`;
    const ready = r.kind === 'alone' ? '–' : `${r.readyMs.toFixed(0)} ms (${r.readyRange})`;
    console.log(`| ${r.throttle}× | ${names[r.kind]} | ${r.listMs.toFixed(0)} ms | ${ready} | ${r.tbtMs.toFixed(0)} ms | ${adds} | ${r.longestMs.toFixed(0)} ms | ${r.changes} | ${r.wireKB.toFixed(0)} KB |`);
  }
} finally {
  await server.close();
}
