// `npm run bench:worker`: load check of the Worker bundle in workerd (Miniflare) on loopback: 30 s of
// wrk with 48-item POST /price bodies from a real device edgeRequest. Prints req/s, p50/p99 latency,
// errors and workerd CPU time per request. Not part of `npm test`.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT, log } from '../scripts/setup.mjs';
import { bundleWorker } from '../scripts/worker.mjs';
import { createPricer } from '../js/node.js';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 30);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 8);

function ensureWrk() {
  if (spawnSync('wrk', ['--version']).error === undefined) return;
  if (process.getuid?.() === 0) execFileSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' });
  else throw new Error('wrk is missing: sudo apt-get install -y wrk');
}

/** CPU seconds (user + system) used so far by the workerd processes under this one. */
function workerdCpuSeconds() {
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (comm.startsWith('workerd') && Number(fields[1]) === process.pid) total += (Number(fields[11]) + Number(fields[12])) / tick;
    } catch { /* the process ended */ }
  }
  return total;
}

ensureWrk();
const out = bundleWorker();
const mf = new Miniflare({
  modules: true, scriptPath: join(out, 'index.js'), modulesRoot: out,
  modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }, { type: 'Data', include: ['**/*.onnx'] }],
  compatibilityDate: '2025-06-01', bindings: { PRICELET_SIGNING_KEY: 'load-test-signing-key-0123456789' },
  host: '127.0.0.1', port: 0, cf: false,
});
const url = (await mf.ready).href.replace(/\/$/, '');
const dir = mkdtempSync(join(tmpdir(), 'pricelet-load-'));
try {
  const device = await createPricer({ consent: 'granted', anonId: 'shopper-7' });
  for (const ev of JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/behaviour.json'), 'utf8'))) device.track({ ...ev, at: undefined });
  const items = Array.from({ length: 48 }, (_, i) => ({ id: `item-${i}`, price: (19.99 + i * 7).toFixed(2), currency: 'EUR', category: ['shoes', 'home', 'electronics', 'books'][i % 4], cost: (6 + i * 2).toFixed(2) }));
  const body = JSON.stringify(device.edgeRequest(items));
  const check = await fetch(`${url}/price`, { method: 'POST', body });
  if (check.status !== 200) throw new Error(`warm-up request failed: ${check.status} ${await check.text()}`);
  const script = join(dir, 'post.lua');
  writeFileSync(script, `wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`);
  // Warm-up, then the measured run.
  execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, '-d3s', '-s', script, `${url}/price`]);
  const cpu0 = workerdCpuSeconds();
  const report = execFileSync('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-s', script, `${url}/price`]).toString();
  const cpu = workerdCpuSeconds() - cpu0;
  const requests = Number(report.match(/(\d+) requests in/)[1]);
  const rps = Number(report.match(/Requests\/sec:\s+([\d.]+)/)[1]);
  const p = (q) => report.match(new RegExp(`\\s${q}%\\s+([\\d.]+\\w+)`))?.[1];
  const non2xx = Number(report.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const sock = report.match(/Socket errors: (.*)/)?.[1] ?? 'none';
  console.log(`\nWorker load check: wrk, ${SECONDS} s, ${CONNECTIONS} connections, 48-item POST /price bodies (${body.length} B), Miniflare/workerd on 127.0.0.1\n`);
  console.log('| requests | req/s | p50 | p99 | non-2xx | socket errors | workerd CPU per request |');
  console.log('|---:|---:|---:|---:|---:|---|---:|');
  console.log(`| ${requests} | ${rps.toFixed(0)} | ${p(50)} | ${p(99)} | ${non2xx} | ${sock} | ${((cpu / requests) * 1000).toFixed(2)} ms |`);
} finally {
  await mf.dispose();
  rmSync(dir, { recursive: true, force: true });
  log('done');
}
