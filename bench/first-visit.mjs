// `npm run bench:first-visit`: a shopper's first visit to the demo storefront in headless Chromium
// with the DevTools protocol's 4× CPU throttle (a mid-range phone), served as `npm start` serves it
// (`cdn`: brotli/gzip, cache headers) and, for comparison, uncompressed. Fresh profile every run, so
// nothing is cached. Prints the time to list prices on screen and to the engine being ready (from
// navigation start, as the page's own performance marks say) and the bytes on the wire.
// Not part of `npm test`: a measurement, not an assertion.
import { build } from '../scripts/build.mjs';
import { serveStatic } from '../scripts/serve.mjs';
import { storefrontMounts } from '../scripts/start.mjs';
import { launch } from '../tests/js/browser.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const THROTTLE = Number(process.env.CPU_THROTTLE ?? 4);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function visit(url) {
  const browser = await launch();
  try {
    const page = browser.context.pages()[0] ?? await browser.context.newPage();
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE });
    let wire = 0;
    let decoded = 0;
    const sizes = new Map();
    cdp.on('Network.dataReceived', (e) => { decoded += e.dataLength; });
    cdp.on('Network.responseReceived', (e) => sizes.set(e.requestId, e.response.url));
    cdp.on('Network.loadingFinished', (e) => { wire += e.encodedDataLength; });
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById('engine-status')?.dataset.state !== 'loading', null, { timeout: 120_000 });
    const marks = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime])));
    const state = await page.evaluate(() => document.getElementById('engine-status').dataset.state);
    if (state !== 'ready') throw new Error(`the engine did not start: ${state}`);
    return { listMs: marks['pricelet:list-prices'], importedMs: marks['pricelet:imported'], readyMs: marks['pricelet:engine-ready'], wireKB: wire / 1024, decodedKB: decoded / 1024, requests: sizes.size };
  } finally {
    await browser.close();
  }
}

build();
const rows = [];
for (const cdn of [false, true]) {
  const server = await serveStatic({ mounts: storefrontMounts(), cdn });
  try {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await visit(`${server.url}/`));
    rows.push([cdn ? 'as `npm start` serves it (brotli, cache headers)' : 'uncompressed (as `npm start` served before)', ...['listMs', 'importedMs', 'readyMs', 'wireKB', 'decodedKB', 'requests'].map((k) => median(runs.map((r) => r[k])))]);
  } finally {
    await server.close();
  }
}
console.log(`\nFirst visit to the demo storefront: headless Chromium, ${THROTTLE}× CPU throttle (DevTools protocol), 127.0.0.1, fresh profile, median of ${RUNS}\n`);
console.log('| served | list prices on screen | package imported | engine ready | bytes on the wire | bytes decoded | requests |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [name, list, imported, ready, wire, decoded, n] of rows) {
  console.log(`| ${name} | ${list.toFixed(0)} ms | ${imported.toFixed(0)} ms | ${ready.toFixed(0)} ms | ${wire.toFixed(0)} KB | ${decoded.toFixed(0)} KB | ${n} |`);
}
