// `npm run bench:worker`: load check of the Worker bundle in workerd on loopback: 30 s of
// wrk with 48-item POST /price bodies from a real device edgeRequest. Prints req/s, p50/p99 latency,
// errors and workerd CPU time per request. Not part of `npm test`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from '../scripts/setup.mjs';
import { WORKERD_VERSION, ensureWrk, startWorker, workerdUsage, writePriceScript, wrk } from './edge.mjs';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 30);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 8);

ensureWrk();
const { url, stop } = await startWorker();
const dir = mkdtempSync(join(tmpdir(), 'pricelet-load-'));
try {
  const { script, bodyBytes } = await writePriceScript(dir, url);
  await wrk(['-t1', `-c${CONNECTIONS}`, '-d3s', '-s', script, `${url}/price`]); // warm-up
  const cpu0 = workerdUsage().cpuSeconds;
  const r = await wrk(['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--timeout', '10s', '--latency', '-s', script, `${url}/price`]);
  const cpu = workerdUsage().cpuSeconds - cpu0;
  console.log(`\nWorker load check: wrk, ${SECONDS} s, ${CONNECTIONS} connections, 48-item POST /price bodies (${bodyBytes} B), workerd ${WORKERD_VERSION} on 127.0.0.1\n`);
  console.log('| requests | req/s | p50 | p99 | non-2xx | socket errors | workerd CPU per request |');
  console.log('|---:|---:|---:|---:|---:|---|---:|');
  console.log(`| ${r.requests} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.non2xx} | ${r.socketErrors} | ${((cpu / r.requests) * 1000).toFixed(2)} ms |`);
} finally {
  await stop();
  rmSync(dir, { recursive: true, force: true });
  log('done');
}
