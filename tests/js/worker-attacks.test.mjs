// The learning loop and /report attacked from outside (no admin token) and redeployed as merchants
// do, in workerd (Miniflare) with the Worker as deployed. Each test is one finding of the attack:
// it failed before its fix. Fake reports are written by hand exactly as a device randomizes them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Miniflare } from 'miniflare';
import { ROOT } from '../../scripts/setup.mjs';
import { BUNDLE_RULES, bundleWorker } from '../../scripts/worker.mjs';
import { createPricer } from '../../js/node.js';
import { seededRandom as random } from '../../scripts/seeded-random.mjs';

const KEY = 'attack-test-signing-key-0123456789';
const ADMIN = 'attack-test-admin-token-0123456789';
const LEARNING = JSON.parse(readFileSync(join(ROOT, 'policy/learning.json'), 'utf8'));
const CRON = '0 */6 * * *';
const outbound = [];
let out;
let domain; // the report domain of policy/learning.json, as a device writes it

/** A Worker on its own storage; `deploy(bindings)` restarts it as a redeploy would. */
function worker() {
  const persist = mkdtempSync(join(tmpdir(), 'pricelet-attack-'));
  let mf = null;
  let url = null;
  const w = {
    async deploy(bindings) {
      await mf?.dispose();
      mf = new Miniflare({
        modules: true, scriptPath: join(out, 'index.js'), modulesRoot: out, modulesRules: BUNDLE_RULES, compatibilityDate: '2025-06-01',
        bindings: { PRICELET_SIGNING_KEY: KEY, PRICELET_ADMIN_TOKEN: ADMIN, ...bindings },
        durableObjects: { REPORTS: { className: 'ReportTally', useSQLite: true }, POLICY: { className: 'PolicyStore', useSQLite: true } },
        durableObjectsPersist: persist, host: '127.0.0.1', port: 0, cf: false,
        outboundService: (request) => { outbound.push(request.url); return new Response('blocked', { status: 599 }); },
      });
      url = (await mf.ready).href.replace(/\/$/, '');
    },
    fetch: (path, init = {}) => fetch(`${url}${path}`, init),
    post: (path, body, headers = {}) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) }),
    admin: (path) => fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } }),
    async cron() { assert.equal((await (await mf.getWorker()).scheduled({ cron: CRON })).outcome, 'ok'); },
    async log() { return (await (await fetch(`${url}/policy/log`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()).entries; },
    async served() { const res = await fetch(`${url}/policy`); assert.equal(res.status, 200); return { policy: await res.json(), etag: res.headers.get('etag') }; },
    async close() { await mf?.dispose(); rmSync(persist, { recursive: true, force: true }); },
  };
  return w;
}

/**
 * `n` reports of shoppers whose price response is `beta` (P(buy) = σ(α_b + β·d) with α_b rising
 * with the bucket), randomized with GRR at the policy's ε over converted × bucket within the drawn
 * step — exactly what a device sends, written by hand.
 */
function handmadeReports(policy, n, beta, seed, alpha = (bucket) => -2.5 + bucket / 2) {
  const rand = random(seed);
  const steps = [0, ...policy.discountSteps];
  const buckets = policy.reporting.interestBuckets.length + 1;
  const k = 2 * buckets;
  const e = Math.exp(policy.reporting.epsilon);
  const keep = e / (e + k - 1);
  return Array.from({ length: n }, () => {
    const step = Math.floor(rand() * steps.length);
    const bucket = Math.floor(rand() * buckets);
    const converted = rand() < 1 / (1 + Math.exp(-(alpha(bucket) + beta * steps[step] / 100)));
    const truth = Number(converted) * buckets + bucket;
    let value = truth;
    if (rand() >= keep) {
      value = Math.floor(rand() * (k - 1));
      if (value >= truth) value += 1;
    }
    return { day: '2026-12-03', mechanism: 'grr', epsilon: policy.reporting.epsilon, domain, domainVersion: 2, step, value };
  });
}

/** POSTs reports as devices do: one device's daily share per request. */
async function send(w, policy, reports) {
  const per = Math.floor(policy.reporting.dailyEpsilon / policy.reporting.epsilon);
  for (let i = 0; i < reports.length; i += per) {
    const res = await w.post('/report', { reports: reports.slice(i, i + per) });
    const text = await res.text();
    assert.equal(res.status, 202, text);
  }
}

before(async () => {
  out = bundleWorker(join(ROOT, 'target', 'worker-attacks-bundle'));
  // The domain string of the learning policy's reports, from a real device's report.
  const device = await createPricer({ consent: 'granted', storage: 'memory', anonId: 'domain-probe', policy: { ...LEARNING, experiment: { ...LEARNING.experiment, explorationPercent: 100 } } });
  const quote = device.priceFor({ id: 'probe', price: '100.00', currency: 'CHF', category: 'home' });
  domain = device.report(quote, { converted: false }).report.domain;
  device.free();
});

after(() => assert.deepEqual(outbound, [], 'the Worker made no outbound request'));

/** A learning policy that acts on a few thousand reports: ε 4, 10 reports a day per device. */
const QUICK = {
  ...LEARNING,
  reporting: { ...LEARNING.reporting, epsilon: 4, dailyEpsilon: 40 },
  learning: { ...LEARNING.learning, minReports: 1000, maxIntervalWidth: 12 },
};

/** Evidence for β far above the policy's, in two collection rounds: the proposer moves β up. */
async function twoRoundsOfEvidence(w, policy, seed) {
  await send(w, policy, handmadeReports(policy, 3000, 20, seed));
  await w.cron();
  await send(w, policy, handmadeReports(policy, 3000, 20, seed + 1));
}

test('1. fake reports alone, without a token, no longer move β: a retreat needs the evidence any change needs, and no single round decides', async () => {
  const w = worker();
  try {
    const policy = { ...LEARNING, version: 'attack-1' };
    await w.deploy({ PRICELET_POLICY: policy });
    // 2,052 fakes simulating β = −6 (discounts scare buyers off), as in the attack: an interval
    // about 10 wide, entirely below the break-even β.
    await send(w, policy, handmadeReports(policy, 2052, -6, 1, () => 0));
    await w.cron();
    let last = (await w.log()).at(-1);
    assert.equal(last.action, 'hold', last.reason);
    assert.ok(last.evidence.beta.hi < last.evidence.breakEvenBeta, `the fakes do say discounts do not pay: ${JSON.stringify(last.evidence.beta)}`);
    assert.match(last.reason, /maxIntervalWidth/);
    // Ten times as many, in one burst: a narrow interval now, and still one round only.
    await send(w, policy, handmadeReports(policy, 20_520, -6, 2, () => 0));
    await w.cron();
    last = (await w.log()).at(-1);
    assert.equal(last.action, 'hold', last.reason);
    assert.match(last.reason, /without collection round|one collection round/);
    assert.equal((await w.served()).policy.version, 'attack-1', 'β stays where the merchant put it');
  } finally {
    await w.close();
  }
});

test('2. a redeploy keeps the kill switch on until POST /policy/resume', async () => {
  const w = worker();
  try {
    const policy = { ...QUICK, version: 'stop-1' };
    await w.deploy({ PRICELET_POLICY: policy });
    await twoRoundsOfEvidence(w, policy, 10);
    assert.equal((await (await w.admin('/policy/stop')).json()).stopped, true);
    // SECURITY.md's advice: lower betaMax, deploy, read the log, then resume.
    const lowered = { ...policy, version: 'stop-2', learning: { ...policy.learning, betaMax: 6, maxIntervalWidth: 6 } };
    await w.deploy({ PRICELET_POLICY: lowered });
    await w.cron();
    const entries = await w.log();
    assert.equal(entries.at(-2).action, 'new_base');
    assert.match(entries.at(-2).reason, /kill switch stays on/);
    assert.equal(entries.at(-1).action, 'stopped', entries.at(-1).reason);
    assert.deepEqual([(await w.served()).policy.version, (await w.served()).policy.strategy.beta], ['stop-2', 4]);
    assert.equal((await (await w.admin('/policy/resume')).json()).stopped, false);
  } finally {
    await w.close();
  }
});

test('3. a base version at the length limit still grows, and every served version is one devices accept', async () => {
  const w = worker();
  try {
    for (const length of [64, 57]) {
      const policy = { ...QUICK, version: `${length}-`.padEnd(length, 'v') };
      await w.deploy({ PRICELET_POLICY: policy });
      await twoRoundsOfEvidence(w, policy, length);
      const names = new Set();
      for (let cycle = 0; cycle < 10; cycle += 1) {
        const res = await w.admin('/policy/propose');
        const decision = await res.json();
        assert.equal(res.status, 200, JSON.stringify(decision));
        assert.equal(decision.action, 'propose', decision.reason);
        const { policy: served } = await w.served();
        assert.ok(served.version.length <= 64, served.version);
        assert.ok(!names.has(served.version), `${served.version} given twice`);
        names.add(served.version);
        const device = await createPricer({ model: null, policy: served });
        device.free();
        assert.equal((await w.fetch('/health')).status, 200);
        assert.equal((await w.post('/price', { items: [{ id: 'x', price: '10.00', currency: 'EUR' }] })).status, 200);
        await w.admin('/policy/stop');
        await w.admin('/policy/resume');
      }
    }
  } finally {
    await w.close();
  }
});

test('4 and 5. a version name is never given twice, and ETags come from the bytes served', async () => {
  const w = worker();
  try {
    const a = { ...QUICK, version: 'base-A' };
    await w.deploy({ PRICELET_POLICY: a });
    await twoRoundsOfEvidence(w, a, 40);
    const first = await (await w.admin('/policy/propose')).json();
    assert.equal(first.toVersion, 'base-A+loop.1');
    const held = await w.served();
    // Rollback: A → B → A; the loop goes on from A, under a name it has never used.
    await w.deploy({ PRICELET_POLICY: { ...a, version: 'base-B' } });
    assert.equal((await w.served()).policy.version, 'base-B');
    await w.deploy({ PRICELET_POLICY: a });
    const again = await (await w.admin('/policy/propose')).json();
    assert.equal(again.action, 'propose', again.reason);
    assert.notEqual(again.toVersion, 'base-A+loop.1');
    // A device holding the first copy revalidates with its ETag: the new content comes back.
    const res = await w.fetch('/policy', { headers: { 'if-none-match': held.etag } });
    assert.equal(res.status, 200);
    assert.notEqual(res.headers.get('etag'), held.etag);
    // Two names an escaped ETag confused.
    const etags = [];
    for (const version of ['v"1', 'v%221']) {
      await w.deploy({ PRICELET_POLICY: { ...LEARNING, version } });
      etags.push((await w.served()).etag);
    }
    assert.notEqual(etags[0], etags[1]);
    assert.equal((await w.fetch('/policy', { headers: { 'if-none-match': etags[0] } })).status, 200);
    assert.equal((await w.fetch('/policy', { headers: { 'if-none-match': etags[1] } })).status, 304);
  } finally {
    await w.close();
  }
});

test('8. another site cannot make its visitors send reports; the storefront (and listed origins) can', async () => {
  const w = worker();
  try {
    await w.deploy({ PRICELET_POLICY: { ...LEARNING, version: 'origin-1' }, PRICELET_REPORT_ORIGINS: 'https://shop.example' });
    const reports = handmadeReports(LEARNING, 2, 4, 3);
    const body = JSON.stringify({ reports });
    const cases = [
      // A form or fetch from another site needs no preflight with text/plain.
      [{ 'content-type': 'text/plain', origin: 'https://evil.example' }, 403, 'cross_site_report'],
      [{ 'content-type': 'application/json', origin: 'https://evil.example' }, 403, 'cross_site_report'],
      [{ 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site' }, 403, 'cross_site_report'],
      [{ 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
      [{ 'content-type': 'application/json', origin: 'https://shop.example' }, 202, null],
      [{ 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, 202, null],
      [{ 'content-type': 'application/json; charset=utf-8' }, 202, null],
    ];
    for (const [headers, status, code] of cases) {
      const res = await w.fetch('/report', { method: 'POST', headers, body });
      const answer = await res.json();
      assert.equal(res.status, status, `${JSON.stringify(headers)}: ${JSON.stringify(answer)}`);
      if (code) assert.equal(answer.code, code);
      else assert.deepEqual(Object.keys(answer).sort(), ['accepted', 'shard'], '11. no running total in the answer');
    }
    const listed = await w.fetch('/report', { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    assert.deepEqual([listed.status, listed.headers.get('access-control-allow-origin')], [204, 'https://shop.example']);
    const other = await w.fetch('/report', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(other.status, 403);
  } finally {
    await w.close();
  }
});

test('10 and 11. deep JSON on /report is a 400 with a code; guardrails that bound nothing are refused at deploy', async () => {
  const w = worker();
  try {
    await w.deploy({ PRICELET_POLICY: { ...LEARNING, version: 'deep-1' } });
    const deep = `{"reports":[${'['.repeat(4000)}${']'.repeat(4000)}]}`;
    const res = await w.post('/report', deep);
    const answer = await res.json();
    assert.equal(res.status, 400, JSON.stringify(answer));
    assert.equal(typeof answer.code, 'string');
    for (const [field, value] of [['maxBetaStep', 1e6], ['maxIntervalWidth', 1e300]]) {
      await w.deploy({ PRICELET_POLICY: { ...LEARNING, version: `bad-${field}`, learning: { ...LEARNING.learning, [field]: value } } });
      const bad = await w.fetch('/policy');
      assert.equal(bad.status, 503);
      assert.match((await bad.json()).message, new RegExp(`learning\\.${field}`));
    }
  } finally {
    await w.close();
  }
});
