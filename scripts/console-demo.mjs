// `npm run console:demo`: the Worker in workerd (Miniflare, as the tests run it) under the learning
// policy, fed a few collection rounds of reports from simulated shoppers, then the merchant console's
// URL and the local admin token; it stays up until Ctrl-C. `-- --screenshot docs/console.png` takes the
// README's screenshot instead of staying up; `-- --port N` picks the port (default 8787).
//
// The shoppers are those of `pricelet loop-simulate`: a shopper of interest r buys at discount d with
// P = σ(logit r + β_true·d). The CLI cannot write its reports out, so here each shopper is a real
// device — the package's own pricer in Node, under the policy the Worker serves at /policy — that
// browses, is shown explore quotes, and makes its reports with pricer.report() (the device's
// randomizer, ε as the policy says); its batch goes to POST /report as a storefront's would.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { createPricer } from '../js/node.js';
import { ROOT, log } from './setup.mjs';
import { BUNDLE_RULES, bundleWorker } from './worker.mjs';
import { seededRandom as random } from './seeded-random.mjs';

const LEARNING = JSON.parse(readFileSync(join(ROOT, 'policy', 'learning.json'), 'utf8'));
/**
 * policy/learning.json with what a few thousand simulated reports a round need to move the loop:
 * every treatment quote explores (3 % in the shipped policy), ε = 4 per report (2 shipped; the
 * docs' table: ~100,000 shoppers a round at ε = 4, ~1,000,000 at ε = 2), ten reports per device and
 * day, and two interest buckets (one per kind of simulated visit: a bucket with hardly any shoppers
 * or purchases leaves the fit with too little to go on). The guardrails are the shipped ones: β in
 * [0, 12], at most 2 per change, 2,000 reports and an interval narrower than 4 first.
 */
export const DEMO_POLICY = {
  ...LEARNING,
  version: 'learning-demo-1',
  experiment: { ...LEARNING.experiment, explorationPercent: 100 },
  reporting: { ...LEARNING.reporting, epsilon: 4, dailyEpsilon: 40, interestBuckets: [0.5] },
};
/** The item every shopper is offered, as in loop-simulate: 100.00 CHF (no price endings: each explore price is its step). */
export const DEMO_ITEM = { id: 'loop-item', price: '100.00', currency: 'CHF', category: 'apparel' };
const DAY_MS = 86_400_000;
/**
 * The devices' clock on the last day of reports: the model reads the month, so a fixed November day
 * keeps each kind of visit's interest where the buckets expect it (≈ 0.2 and ≈ 0.7).
 */
export const LAST_DAY = 1795950160000;

/** A visit that leaves the device's interest low (nothing seen yet, ≈ 0.2) or high (three long product views, ≈ 0.7). */
function browse(device, kind, now) {
  if (kind === 1) {
    for (let e = 0; e < 3; e++) {
      device.track({ type: 'page_view', at: now - 100000 + e * 5000, page: { kind: 'product', id: `viewed-${e}`, bounceRate: 0.02, exitRate: 0.05, pageValue: 10 }, category: DEMO_ITEM.category, dwellMs: 30000 });
    }
  }
}

/**
 * One collection round's devices under `policy` on day `now`: each shows up to its daily number of
 * quotes, the shopper buys an explore quote with σ(logit r + trueBeta·d), the device reports it.
 * Returns one batch of reports per device (what one POST /report carries).
 */
export async function shoppers(policy, { reports, trueBeta, now, seed }) {
  const rand = random(seed);
  const perDevice = Math.floor(policy.reporting.dailyEpsilon / policy.reporting.epsilon + 1e-9);
  const batches = [];
  let made = 0;
  for (let i = 0; made < reports; i++) {
    const device = await createPricer({ consent: 'granted', anonId: `demo-${seed}-${i}`, storage: 'memory', policy, now: () => now });
    browse(device, i % 2, now);
    const batch = [];
    for (let j = 0; j < perDevice && made + batch.length < reports; j++) {
      const quote = device.priceFor({ ...DEMO_ITEM, id: `${DEMO_ITEM.id}-${j}` });
      if (quote.reason !== 'explore') continue; // control quotes make no report under a learning policy
      const r = Math.min(Math.max(quote.interest, 1e-6), 1 - 1e-6);
      const d = quote.discountMinor / quote.listPriceMinor;
      const bought = rand() < 1 / (1 + Math.exp(-(Math.log(r / (1 - r)) + trueBeta * d)));
      const { report } = device.report(quote, { converted: bought });
      if (report) batch.push(report);
    }
    device.free();
    if (batch.length > 0) batches.push(batch);
    made += batch.length;
  }
  return batches;
}

/** Starts the bundled Worker in workerd on 127.0.0.1; nothing it fetches leaves (the outbound list records any try). */
export async function startWorker({ bundle, adminToken, policy = DEMO_POLICY, port = 0, outbound = [] }) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(bundle, 'index.js'),
    modulesRoot: bundle,
    modulesRules: BUNDLE_RULES,
    compatibilityDate: '2025-06-01',
    bindings: { PRICELET_SIGNING_KEY: randomBytes(24).toString('base64url'), PRICELET_ADMIN_TOKEN: adminToken, PRICELET_POLICY: policy },
    durableObjects: { REPORTS: { className: 'ReportTally', useSQLite: true }, POLICY: { className: 'PolicyStore', useSQLite: true } },
    host: '127.0.0.1',
    port,
    cf: false,
    outboundService: (request) => {
      outbound.push(request.url);
      return new Response('the demo Worker makes no outbound request', { status: 599 });
    },
  });
  const url = (await mf.ready).href.replace(/\/$/, '');
  return { mf, url };
}

/**
 * Feeds `rounds` collection rounds (days, oldest first, the last one LAST_DAY) of reports to the Worker
 * at `url`, each from devices under the policy it serves then, and runs the proposer after each
 * round. More rounds (up to `maxRounds`) while fewer than `minProposals` changes were made.
 */
export async function feed(url, adminToken, { rounds = 6, maxRounds = rounds, minProposals = 0, reportsPerRound = 2500, trueBeta = 8, onRound = () => {} } = {}) {
  const decisions = [];
  for (let round = 0; round < maxRounds; round++) {
    const proposals = decisions.filter((d) => d.action === 'propose' || d.action === 'retreat').length;
    if (round >= rounds && proposals >= minProposals) break;
    const policy = await (await fetch(`${url}/policy`, { cache: 'no-store' })).json();
    const now = LAST_DAY - Math.max(0, rounds - 1 - round) * DAY_MS;
    const batches = await shoppers(policy, { reports: reportsPerRound, trueBeta, now, seed: 1000 + round });
    for (let k = 0; k < batches.length; k += 8) {
      await Promise.all(batches.slice(k, k + 8).map(async (reports) => {
        const res = await fetch(`${url}/report`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reports }) });
        if (res.status !== 202) throw new Error(`POST /report: ${res.status} ${await res.text()}`);
      }));
    }
    const res = await fetch(`${url}/policy/propose`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
    const decision = await res.json();
    if (res.status !== 200) throw new Error(`POST /policy/propose: ${res.status} ${JSON.stringify(decision)}`);
    decisions.push(decision);
    onRound(round + 1, decision);
  }
  return decisions;
}

/** The console at `url` in headless Chromium, signed in; its screenshot to `path`. */
async function screenshot(url, adminToken, path) {
  const { launch } = await import('../tests/js/browser.mjs');
  const browser = await launch({ viewport: { width: 1000, height: 900 } });
  try {
    const page = await browser.context.newPage();
    await page.goto(`${url}/console`);
    await page.fill('#token', adminToken);
    await page.click('#token-form button');
    await page.waitForSelector('#versions .body table');
    await page.screenshot({ path, fullPage: true });
  } finally {
    await browser.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  const adminToken = randomBytes(24).toString('base64url');
  let worker;
  const stop = async (code = 0) => {
    await worker?.mf.dispose();
    process.exit(code);
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  try {
    const bundle = bundleWorker(join(ROOT, 'target', 'console-demo-bundle'));
    const shot = arg('--screenshot');
    worker = await startWorker({ bundle, adminToken, port: Number(arg('--port') ?? (shot ? 0 : 8787)) });
    log(`the Worker runs in workerd at ${worker.url} under ${DEMO_POLICY.version} (policy/learning.json at ε = 4, every treatment quote exploring); shoppers respond with β = 8`);
    await feed(worker.url, adminToken, {
      minProposals: 1, maxRounds: 10,
      onRound: (n, d) => log(`round ${n}: ${d.evidence.reports} reports so far; ${d.action}: ${d.reason}`),
    });
    if (shot) {
      await screenshot(worker.url, adminToken, shot);
      log(`screenshot: ${shot}`);
      await stop(0);
    }
    log('the merchant console (paste the admin token when it asks; Ctrl-C stops the Worker):');
    console.log(`console:     ${worker.url}/console`);
    console.log(`admin token: ${adminToken}`);
  } catch (e) {
    log(e.stack ?? e.message);
    await stop(1);
  }
}
