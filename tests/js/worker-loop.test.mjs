// The learning loop at the edge, in workerd (Miniflare) as deployed: the served policy (ETag, 304),
// the proposer behind POST /policy/propose and the Cron Trigger with its audit log, the kill switch,
// quotes of a replaced version verifying through the grace period only, state in Durable Object
// storage across restarts, the report tally sharded over K objects, and the per-client limits of
// /report. Reports come from real devices (the package in Node) under a learning policy.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Miniflare } from 'miniflare';
import { ROOT } from '../../scripts/setup.mjs';
import { BUNDLE_RULES, bundleWorker } from '../../scripts/worker.mjs';
import { createPricer, estimates, listQuote, signQuote, tallyReports, toCheckout, verifyQuote } from '../../js/node.js';
import { seededRandom as random } from '../../scripts/seeded-random.mjs';

const KEY = 'loop-test-signing-key-0123456789';
const ADMIN = 'loop-test-admin-token-0123456789';
const GRACE_MS = 4000;
const SHARDS = 4;
const LEARNING = JSON.parse(readFileSync(join(ROOT, 'policy/learning.json'), 'utf8'));
// Every treatment quote explores, reports are nearly noise-free (ε = 8), a device may report 10
// quotes a day, and a few hundred reports suffice; grace (= quote lifetime) is short so the test
// can see it end.
const POLICY = {
  ...LEARNING,
  version: 'loop-test-1',
  quoteTtlMs: GRACE_MS,
  experiment: { ...LEARNING.experiment, explorationPercent: 100 },
  // Three buckets, one per kind of visit browse() makes.
  reporting: { epsilon: 8, dailyEpsilon: 80, mechanism: 'grr', interestBuckets: [0.1, 0.3] },
  learning: { ...LEARNING.learning, minReports: 200, maxIntervalWidth: 12, graceMs: GRACE_MS },
};
const PER_DEVICE = POLICY.reporting.dailyEpsilon / POLICY.reporting.epsilon;
const DEVICES = 80;
// CHF has no price endings in the policy, so every discount step is exact (EUR's .99/.49 turn 20 %
// off 49.99 into 19 %, leaving the 20 % step without exposures).
const ITEM = { id: 'loop-item', price: '49.99', currency: 'CHF', category: 'home' };
// Shoppers' devices are set at this time, so their interest (and interest bucket) is reproducible.
const DEVICE_NOW = 1795950160000;
const CRON = '0 */6 * * *';

const outbound = [];
const persist = mkdtempSync(join(tmpdir(), 'pricelet-loop-'));
let out;
let mf;
let url;
let batches; // one device's reports per batch
let served; // GET /policy body after the proposal

function start({ bindings = {}, ratelimits, durable = true } = {}) {
  return new Miniflare({
    modules: true,
    scriptPath: join(out, 'index.js'),
    modulesRoot: out,
    modulesRules: BUNDLE_RULES,
    compatibilityDate: '2025-06-01',
    bindings: { PRICELET_SIGNING_KEY: KEY, PRICELET_ADMIN_TOKEN: ADMIN, PRICELET_POLICY: POLICY, PRICELET_TALLY_SHARDS: SHARDS, ...bindings },
    durableObjects: { REPORTS: { className: 'ReportTally', useSQLite: true }, POLICY: { className: 'PolicyStore', useSQLite: true } },
    ...(durable ? { durableObjectsPersist: persist } : {}),
    ...(ratelimits ? { ratelimits } : {}),
    host: '127.0.0.1',
    port: 0,
    cf: false,
    outboundService: (request) => {
      outbound.push(request.url);
      return new Response('blocked by the test', { status: 599 });
    },
  });
}

async function restart(options) {
  await mf?.dispose();
  mf = start(options);
  url = (await mf.ready).href.replace(/\/$/, '');
}

/** A visit that puts the device's interest in bucket `b` of POLICY's interestBuckets [0.1, 0.3]:
 * a bounced FAQ visit (≈ 0.01), nothing (≈ 0.2), three long product views in the category (≈ 0.7). */
function browse(device, b) {
  if (b === 0) device.track({ type: 'page_view', at: DEVICE_NOW - 5000, page: { kind: 'informational', id: 'faq', bounceRate: 0.8, exitRate: 0.9 } });
  if (b === 2) {
    for (let e = 0; e < 3; e++) {
      device.track({ type: 'page_view', at: DEVICE_NOW - 100000 + e * 5000, page: { kind: 'product', id: `viewed-${e}`, bounceRate: 0.02, exitRate: 0.05, pageValue: 10 }, category: 'home', dwellMs: 30000 });
    }
  }
}

/**
 * Devices under POLICY, a third in each interest bucket (β is fitted per bucket: each needs
 * exposures), each shown PER_DEVICE explore quotes; shoppers buy with P = σ(α_b + 20·d) for a
 * discount d, a price response far above the policy's β = 4.
 */
async function deviceBatches() {
  const rand = random(7);
  const all = [];
  for (let i = 0; i < DEVICES; i++) {
    const device = await createPricer({ consent: 'granted', anonId: `loop-device-${i}`, storage: 'memory', policy: POLICY, now: () => DEVICE_NOW });
    const bucket = i % 3;
    browse(device, bucket);
    const batch = [];
    for (let j = 0; j < PER_DEVICE; j++) {
      const quote = device.priceFor({ ...ITEM, id: `loop-item-${j}` });
      assert.equal(quote.interest < 0.1 ? 0 : quote.interest < 0.3 ? 1 : 2, bucket, `interest ${quote.interest}`);
      const d = quote.discountMinor / quote.listPriceMinor;
      const out = device.report(quote, { converted: rand() < 1 / (1 + Math.exp(2 + bucket / 2 - 20 * d)) });
      if (out.report) batch.push(out.report);
    }
    device.free();
    // Control quotes make no report under a learning policy: a device sends its explore reports.
    if (batch.length > 0) all.push(batch);
  }
  return all;
}

before(async () => {
  out = bundleWorker(join(ROOT, 'target', 'worker-loop-bundle'));
  batches = await deviceBatches();
  await restart();
});

after(async () => {
  await mf?.dispose();
  rmSync(persist, { recursive: true, force: true });
  assert.deepEqual(outbound, [], 'the Worker made no outbound request');
});

const admin = { authorization: `Bearer ${ADMIN}` };
const post = (path, body, headers = {}) => fetch(`${url}${path}`, {
  method: 'POST', headers: { 'content-type': 'application/json', ...headers },
  body: body === undefined ? undefined : JSON.stringify(body),
});
const getJson = async (path, headers = {}) => {
  const res = await fetch(`${url}${path}`, { headers });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return res.json();
};
const propose = async () => {
  const res = await post('/policy/propose', undefined, admin);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
};
const log = async () => (await getJson('/policy/log', admin)).entries;
const problems = async (quote, item = ITEM) => {
  const res = await post('/verify', { quote: toCheckout(quote), item });
  assert.equal(res.status, 200);
  return (await res.json()).problems.map((p) => p.code);
};

let baseEtag; // the ETag of the base policy as first served

test('GET /policy serves the deployed base policy: a hash of its bytes as ETag, a minute of caching, 304 on a match', async () => {
  const res = await fetch(`${url}/policy`);
  assert.equal(res.status, 200);
  baseEtag = res.headers.get('etag');
  assert.match(baseEtag, /^"[A-Za-z0-9_-]{27}"$/);
  assert.equal(res.headers.get('cache-control'), 'public, max-age=60');
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const engine = await createPricer({ model: null, policy: POLICY });
  assert.deepEqual(await res.json(), engine.policy, 'the policy as the engine reads it');
  engine.free();
  for (const tag of [baseEtag, `W/${baseEtag}`, `"other", ${baseEtag}`, '*']) {
    const cached = await fetch(`${url}/policy`, { headers: { 'if-none-match': tag } });
    assert.equal(cached.status, 304, tag);
    assert.equal(cached.headers.get('etag'), baseEtag);
    assert.equal(await cached.text(), '');
  }
  assert.equal((await fetch(`${url}/policy`, { headers: { 'if-none-match': '"loop-test-1"' } })).status, 200, 'the version name is not the ETag');
  assert.equal((await post('/policy', {})).status, 405);
});

test('the admin endpoints need the admin token (401), and a secret that is set (503)', async () => {
  for (const [path, method] of [['/policy/propose', 'POST'], ['/policy/log', 'GET'], ['/policy/stop', 'POST'], ['/policy/resume', 'POST']]) {
    for (const authorization of [undefined, `Bearer ${ADMIN}x`, `Bearer ${ADMIN.slice(0, -1)}X`, ADMIN, `Bearer ${KEY}`]) {
      const res = await fetch(`${url}${path}`, { method, headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401, `${path} ${authorization}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.deepEqual(Object.keys(await res.json()), ['code', 'message']);
    }
  }
  const bare = start({ bindings: { PRICELET_ADMIN_TOKEN: '' }, durable: false });
  try {
    const res = await bare.dispatchFetch('http://localhost/policy/propose', { method: 'POST', headers: admin });
    assert.equal(res.status, 503);
    const body = await res.json();
    assert.equal(body.code, 'admin_token_missing');
    assert.match(body.message, /wrangler secret put PRICELET_ADMIN_TOKEN/);
  } finally {
    await bare.dispose();
  }
});

test('too few reports: the proposer holds, and the policy stays', async () => {
  const decision = await propose();
  assert.equal(decision.action, 'hold');
  assert.match(decision.reason, /^0 reports of the 200 learning\.minReports asks for/);
  assert.deepEqual([decision.fromVersion, decision.toVersion, decision.policy, decision.trigger], ['loop-test-1', null, null, 'admin']);
  assert.equal(decision.evidence.reports, 0);
  assert.equal((await getJson('/policy')).version, 'loop-test-1');
});

test('/report: a batch bigger than one device\'s daily reports is refused (429), and nothing is counted', async () => {
  assert.equal(PER_DEVICE, 10);
  const res = await post('/report', { reports: batches.flat().slice(0, PER_DEVICE + 1) });
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers.get('retry-after')) > 0);
  const body = await res.json();
  assert.equal(body.code, 'too_many_reports');
  assert.match(body.message, /at most 10 reports a day .*send at most 10 per request/);
  assert.equal((await fetch(`${url}/estimates`)).status, 404, 'still no reports');
});

test(`sharded tally: reports spread over ${SHARDS} shards; /estimates merges them into the package's own read-out`, async () => {
  const shards = new Set();
  // The devices report in two collection rounds: a run of the proposer in between closes the first.
  // One round alone never decides a change.
  for (const [i, batch] of batches.entries()) {
    if (i === batches.length >> 1) {
      const between = await propose();
      assert.equal(between.action, 'hold');
      assert.match(between.reason, /one collection round/);
    }
    assert.ok(batch.length >= 1 && batch.length <= PER_DEVICE);
    const res = await post('/report', { reports: batch });
    const body = await res.json();
    assert.equal(res.status, 202, JSON.stringify(body));
    assert.equal(body.accepted, batch.length);
    assert.ok(Number.isInteger(body.shard) && body.shard >= 0 && body.shard < SHARDS);
    shards.add(body.shard);
  }
  assert.ok(shards.size > 1, `more than one shard received reports (${[...shards]})`);
  const res = await fetch(`${url}/estimates`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('pricelet-tally-shards', String(SHARDS)), String(SHARDS));
  const edge = await res.json();
  const all = batches.flat();
  const local = await estimates(await tallyReports(all, null, { policy: POLICY }), { policy: POLICY });
  assert.equal(edge.reports, all.length);
  assert.deepEqual(edge, local, 'the merged shards read out exactly like one tally of every report');
});

test('a proposal from the devices\' reports: the next version is served, and quotes of the old one verify through the grace period only', async () => {
  // A quote the Worker signs under the base version before the proposal.
  const [old] = (await (await post('/price', { items: [ITEM] })).json()).quotes;
  assert.equal(old.policyVersion, 'loop-test-1');
  const decision = await propose();
  const { beta } = decision.evidence;
  assert.equal(decision.action, 'propose', decision.reason);
  assert.deepEqual([decision.fromVersion, decision.toVersion, decision.trigger], ['loop-test-1', 'loop-test-1+loop.1', 'admin']);
  assert.equal(decision.evidence.reports, batches.flat().length);
  assert.ok(decision.evidence.exploreReports > 0.8 * decision.evidence.reports, `${decision.evidence.exploreReports} explore reports`);
  assert.ok(beta.lo > 4 && beta.hi - beta.lo < 20, `β̂ ${JSON.stringify(beta)} excludes the current β = 4`);
  assert.equal(decision.betaBefore, 4);
  assert.ok(decision.betaAfter > 4 && decision.betaAfter <= 4 + POLICY.learning.maxBetaStep, `β ${decision.betaAfter}`);
  const { acceptUntil } = decision.policy.previousVersion;
  assert.deepEqual(decision.policy.previousVersion, { version: 'loop-test-1', acceptUntil: decision.at + GRACE_MS });

  const res = await fetch(`${url}/policy`, { headers: { 'if-none-match': baseEtag } });
  assert.equal(res.status, 200, 'the old ETag no longer matches');
  assert.notEqual(res.headers.get('etag'), baseEtag);
  served = await res.json();
  assert.deepEqual(served, decision.policy);
  assert.equal(served.strategy.beta, decision.betaAfter);
  const [fresh] = (await (await post('/price', { items: [ITEM] })).json()).quotes;
  assert.equal(fresh.policyVersion, 'loop-test-1+loop.1', '/price uses the new version');

  // Within grace the Worker accepts the old version's quote.
  assert.deepEqual(await problems(old), []);
  assert.ok(Date.now() < acceptUntil, 'checked within the grace period (the machine was too slow: raise GRACE_MS)');
  // The package's verifier with the served policy, at the edges of the grace period, for a quote of
  // the old version that is still unexpired then.
  const oldQuoteAt = (at) => signQuote(listQuote(ITEM, { policy: POLICY, now: at }), 'k1', KEY);
  const late = await oldQuoteAt(acceptUntil - 1000);
  assert.equal(late.policyVersion, 'loop-test-1');
  const codes = async (now) => (await verifyQuote(toCheckout(late), ITEM, served, { keys: { k1: KEY }, now })).problems.map((p) => p.code);
  assert.deepEqual(await codes(acceptUntil), []);
  assert.deepEqual(await codes(acceptUntil + 1), ['unknown_policy_version']);
  // After grace the Worker refuses it: a quote of the old version issued now fails on its version alone.
  await new Promise((r) => setTimeout(r, acceptUntil - Date.now() + 50));
  assert.deepEqual(await problems(await oldQuoteAt(Date.now())), ['unknown_policy_version']);
  assert.ok((await problems(old)).includes('unknown_policy_version'));
  const [current] = (await (await post('/price', { items: [ITEM] })).json()).quotes;
  assert.deepEqual(await problems(current), [], 'the new version\'s quotes verify');
});

test('the audit log holds every decision with its evidence', async () => {
  const entries = await log();
  assert.deepEqual(entries.map((e) => [e.seq, e.action]), [[1, 'start'], [2, 'hold'], [3, 'hold'], [4, 'propose']]);
  const [, hold, , proposal] = entries;
  assert.equal(proposal.evidence.rounds, 2);
  assert.equal(hold.evidence.reports, 0);
  assert.equal(proposal.evidence.reports, batches.flat().length);
  assert.equal(typeof proposal.evidence.beta.se, 'number');
  assert.deepEqual(proposal.policy, served);
  for (const e of entries) assert.ok(Number.isInteger(e.at) && typeof e.reason === 'string' && e.reason.length > 0);
});

test('the Cron Trigger runs the proposer and logs its decision', async () => {
  const before = (await log()).length;
  const result = await (await mf.getWorker()).scheduled({ cron: CRON });
  assert.equal(result.outcome, 'ok');
  const entries = await log();
  assert.equal(entries.length, before + 1);
  const cron = entries.at(-1);
  assert.equal(cron.trigger, 'cron');
  assert.equal(cron.fromVersion, 'loop-test-1+loop.1');
  // β̂ still lies far above the new β: one more step.
  assert.equal(cron.action, 'propose', cron.reason);
  assert.equal(cron.toVersion, 'loop-test-1+loop.2');
  assert.equal((await getJson('/policy')).version, 'loop-test-1+loop.2');
});

test('the kill switch: the base policy is served again, quotes in flight verify, proposals change nothing until resumed', async () => {
  const [inFlight] = (await (await post('/price', { items: [ITEM] })).json()).quotes;
  assert.equal(inFlight.policyVersion, 'loop-test-1+loop.2');
  const stop = await post('/policy/stop', undefined, admin);
  assert.equal(stop.status, 200);
  const stopped = await stop.json();
  assert.deepEqual([stopped.stopped, stopped.version, stopped.entry.action], [true, 'loop-test-1', 'stop']);
  const res = await fetch(`${url}/policy`);
  const policy = await res.json();
  assert.equal(policy.version, 'loop-test-1');
  assert.equal(policy.strategy.beta, POLICY.strategy.beta);
  assert.equal(policy.previousVersion.version, 'loop-test-1+loop.2');
  assert.ok(policy.previousVersion.acceptUntil >= stopped.entry.at + GRACE_MS);
  assert.deepEqual(await problems(inFlight), [], 'a quote of the stopped version still verifies');
  const [base] = (await (await post('/price', { items: [ITEM] })).json()).quotes;
  assert.equal(base.policyVersion, 'loop-test-1');

  const decision = await propose();
  assert.equal(decision.action, 'stopped');
  assert.match(decision.reason, /kill switch/);
  assert.deepEqual([decision.toVersion, decision.policy, decision.betaAfter], [null, null, decision.betaBefore]);
  assert.equal(decision.evidence.reports, batches.flat().length, 'the evidence is still logged');
  const cron = await (await mf.getWorker()).scheduled({ cron: CRON });
  assert.equal(cron.outcome, 'ok');
  assert.equal((await log()).at(-1).action, 'stopped');
  assert.equal((await getJson('/policy')).version, 'loop-test-1');
  // Stopping twice changes and logs nothing.
  assert.equal((await (await post('/policy/stop', undefined, admin)).json()).entry, null);

  const resume = await (await post('/policy/resume', undefined, admin)).json();
  assert.deepEqual([resume.stopped, resume.version, resume.entry.action], [false, 'loop-test-1', 'resume']);
  const next = await propose();
  assert.equal(next.action, 'propose');
  // The loop goes on from the base, and never names a version twice.
  assert.deepEqual([next.fromVersion, next.toVersion, next.policy.version], ['loop-test-1', 'loop-test-1+loop.3', 'loop-test-1+loop.3']);
  assert.equal(next.policy.previousVersion.version, 'loop-test-1');
  assert.equal((await getJson('/policy')).version, 'loop-test-1+loop.3');
  assert.deepEqual((await log()).slice(-6).map((e) => e.action), ['propose', 'stop', 'stopped', 'stopped', 'resume', 'propose']);
});

test('the current version, the audit log and the tally survive a restart; a new base policy starts over, logged', async () => {
  const policy = await getJson('/policy');
  const entries = await log();
  const tally = await getJson('/estimates');
  await restart();
  assert.deepEqual(await getJson('/policy'), policy);
  assert.deepEqual(await log(), entries);
  assert.deepEqual(await getJson('/estimates'), tally);
  // A deploy with another base policy (here as JSON text, with the loop switched off in it).
  const next = { ...POLICY, version: 'loop-test-2', learning: { ...POLICY.learning, enabled: false } };
  await restart({ bindings: { PRICELET_POLICY: JSON.stringify(next) } });
  const served2 = await getJson('/policy');
  assert.equal(served2.version, 'loop-test-2');
  assert.equal(served2.previousVersion.version, 'loop-test-1+loop.3', 'quotes of the version served before the deploy verify through its grace period');
  const logged = await log();
  assert.deepEqual(logged.slice(0, entries.length), entries, 'append-only');
  assert.deepEqual([logged.at(-1).action, logged.at(-1).fromVersion, logged.at(-1).toVersion], ['new_base', 'loop-test-1+loop.3', 'loop-test-2']);
  const decision = await propose();
  assert.equal(decision.action, 'stopped');
  assert.match(decision.reason, /learning\.enabled is false/);
  assert.equal((await fetch(`${url}/estimates`)).status, 404, 'the new base policy has its own tally');
  // A base policy that is not one is a clear 503.
  await restart({ bindings: { PRICELET_POLICY: '{"version": 1}' } });
  const bad = await fetch(`${url}/policy`);
  assert.equal(bad.status, 503);
  assert.match((await bad.json()).message, /^PRICELET_POLICY is not a valid policy/);
});

test('/report: a client over the per-IP rate limit gets 429 with Retry-After', async () => {
  const limited = start({ ratelimits: { REPORT_LIMIT: { simple: { limit: 3, period: 60 } } }, durable: false });
  try {
    const base = (await limited.ready).href.replace(/\/$/, '');
    const statuses = [];
    let refusal;
    for (let i = 0; i < 7; i++) {
      const res = await fetch(`${base}/report`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reports: batches[i] }) });
      statuses.push(res.status);
      if (res.status === 429) refusal = { headers: res.headers, body: await res.json() };
      else await res.arrayBuffer();
    }
    // At most one new minute can begin during the loop: 3 to 6 accepted, the rest refused.
    const accepted = statuses.filter((s) => s === 202).length;
    assert.ok(accepted >= 3 && accepted <= 6 && accepted + statuses.filter((s) => s === 429).length === 7, statuses.join(' '));
    assert.equal(refusal.headers.get('retry-after'), '60');
    assert.equal(refusal.body.code, 'rate_limited');
  } finally {
    await limited.dispose();
  }
});

test('/report: the per-device count is the engine\'s own — ε 0.1 three times fits a daily ε of 0.3 (⌊0.3 / 0.1⌋ would say 2)', async () => {
  const policy = { ...POLICY, version: 'loop-test-eps', reporting: { ...POLICY.reporting, epsilon: 0.1, dailyEpsilon: 0.3 } };
  const device = await createPricer({ consent: 'granted', anonId: 'eps-device', storage: 'memory', policy, now: () => DEVICE_NOW });
  const reports = [];
  for (let i = 0; i < 4; i++) {
    const out = device.report(device.priceFor({ ...ITEM, id: `eps-${i}` }), { converted: false });
    if (out.report) reports.push(out.report);
  }
  device.free();
  assert.equal(reports.length, 3, 'the device sends three reports a day under this policy');
  const fresh = start({ bindings: { PRICELET_POLICY: policy }, durable: false });
  try {
    const base = (await fresh.ready).href.replace(/\/$/, '');
    const send = (list) => fetch(`${base}/report`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reports: list }) });
    const all = await send(reports);
    assert.equal(all.status, 202, 'one device\'s whole day is one batch');
    assert.equal((await all.json()).accepted, 3);
    const tooMany = await send([...reports, reports[0]]);
    assert.equal(tooMany.status, 429);
    assert.match((await tooMany.json()).message, /at most 3 reports a day/);
  } finally {
    await fresh.dispose();
  }
});
