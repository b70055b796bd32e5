// `npm run bench:worker`: pricelet's Worker and a plain-JavaScript Worker doing the same POST /price
// work (bench/js-worker: the trees walked in JS, the same pricing, WebCrypto SHA-256 and HMAC, the
// same JSON in and out), each bundled and served by workerd on loopback, loaded with wrk in turns
// (pricelet, JS, pricelet, JS, ...) with a real device's 48-item edgeRequest body. First their
// answers are compared: the same prices and fields, and the JS Worker's signatures verify with
// pricelet's verifyQuote. Prints req/s, latency, and workerd CPU per request of each, and the ratio.
// Not part of `npm test`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpus } from 'node:os';
import assert from 'node:assert/strict';
import { log } from '../scripts/setup.mjs';
import { verifyQuote } from '../js/node.js';
import { WORKERD_VERSION, ensureWrk, priceBody, startJsWorker, startWorker, workerdUsage, writeScript, wrk } from './edge.mjs';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 30);
const ROUNDS = Number(process.env.LOAD_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 8);
const KEY = 'load-test-signing-key-0123456789'; // the bindings of bench/edge.mjs

/** Both answers to one body: field by field equal but for the time and what hashes it; JS's verify. */
async function compare(body, ourWorker, theirWorker) {
  const [ours, theirs] = await Promise.all([ourWorker, theirWorker].map(async (w) => {
    const res = await fetch(`${w.url}/price`, { method: 'POST', body });
    assert.equal(res.status, 200, `${w.name}: ${await res.clone().text()}`);
    return (await res.json()).quotes;
  }));
  const { items } = JSON.parse(body);
  const timeless = ({ issuedAt, expiresAt, quoteId, sig, interest, ...rest }) => rest;
  for (const [i, q] of theirs.entries()) {
    assert.deepEqual(timeless(q), timeless(ours[i]), `item ${i}`);
    assert.ok(Math.abs(q.interest - ours[i].interest) < 1e-6, `item ${i}: interest ${q.interest} vs ${ours[i].interest}`);
    const v = await verifyQuote(q, items[i], null, { keys: { k1: KEY }, now: q.issuedAt });
    assert.ok(v.ok, `item ${i}: the JS Worker's quote verifies: ${JSON.stringify(v.problems)}`);
  }
  return theirs.length;
}

ensureWrk();
const workers = [];
const dir = mkdtempSync(join(tmpdir(), 'pricelet-load-'));
try {
  workers.push({ name: 'pricelet', ...(await startWorker()) });
  workers.push({ name: 'plain JS (WebCrypto)', ...(await startJsWorker()) });
  workers.push({ name: 'plain JS (node:crypto, sync)', ...(await startJsWorker({ syncCrypto: true })) });
  const body = await priceBody();
  const script = writeScript(dir, body);
  for (const w of workers.slice(1)) {
    const checked = await compare(body, workers[0], w);
    log(`pricelet and ${w.name} agree on ${checked} quotes (prices, fields; the JS quotes verify)`);
  }
  for (const w of workers) {
    await wrk(['-t1', `-c${CONNECTIONS}`, '-d3s', '-s', script, `${w.url}/price`]); // warm-up
    Object.assign(w, { requests: 0, cpu: 0, seconds: 0, p50: [], p99: [], non2xx: 0, socketErrors: [] });
  }
  const slice = Math.max(1, Math.round(SECONDS / ROUNDS));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const w of workers) {
      const cpu0 = workerdUsage(w.pid).cpuSeconds;
      const r = await wrk(['-t2', `-c${CONNECTIONS}`, `-d${slice}s`, '--timeout', '10s', '--latency', '-s', script, `${w.url}/price`]);
      w.cpu += workerdUsage(w.pid).cpuSeconds - cpu0;
      w.requests += r.requests;
      w.seconds += slice;
      w.p50.push(r.p50);
      w.p99.push(r.p99);
      w.non2xx += r.non2xx;
      if (r.socketErrors !== 'none') w.socketErrors.push(r.socketErrors);
    }
  }
  const perRequest = (w) => (w.cpu / w.requests) * 1000;
  const [ours, ...js] = workers;
  console.log(`\nWorker load: wrk, ${ROUNDS} × ${slice} s per Worker in turns, ${CONNECTIONS} connections, 48-item POST /price bodies (${body.length} B), workerd ${WORKERD_VERSION} on 127.0.0.1, ${cpus()[0].model}\n`);
  console.log('| Worker | requests | req/s | p50 (per round) | p99 (per round) | non-2xx | socket errors | workerd CPU per request |');
  console.log('|---|---:|---:|---|---|---:|---|---:|');
  for (const w of workers) {
    console.log(`| ${w.name} | ${w.requests} | ${(w.requests / w.seconds).toFixed(0)} | ${w.p50.join(', ')} | ${w.p99.join(', ')} | ${w.non2xx} | ${w.socketErrors.join('; ') || 'none'} | ${perRequest(w).toFixed(3)} ms |`);
  }
  console.log('');
  for (const w of js) console.log(`pricelet / ${w.name}, workerd CPU per request: ${(perRequest(ours) / perRequest(w)).toFixed(2)}×`);
} finally {
  for (const w of workers) await w.stop();
  rmSync(dir, { recursive: true, force: true });
  log('done');
}
