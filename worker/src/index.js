// pricelet's edge Worker: prices derived model inputs a consenting device sends (edge mode), signs
// every quote, verifies quotes at checkout, collects local-DP measurement reports, runs the learning
// loop's proposer, and serves the storefront and the current policy. It is a client of the pricelet
// package like any user's code. It logs nothing, stores nothing about a request to /price or
// /verify, and of /report keeps only running tallies (sums of already randomized bits) in K shard
// Durable Objects per base policy. The policy store keeps the served policy and the loop's audit log.
import { DurableObject } from 'cloudflare:workers';
import { constants, createPricer, estimates, mergeTallies, proposePolicy, tallyReports, verifyQuote } from 'pricelet';
import model from 'pricelet/models/interest.onnx';
import catalogFile from '../../www/catalog.json';

const MAX_BODY_BYTES = 64 * 1024;
// The engine is ready at import in workerd: its constants are read once.
const { maxEdgeItems: MAX_EDGE_ITEMS } = constants();
const CATALOG = new Map((Array.isArray(catalogFile) ? catalogFile : catalogFile.products ?? []).map((item) => [item.id, item]));
// How long an isolate trusts its copy of the served policy before asking the store again. Quotes of
// a replaced version verify for learning.graceMs (≥ quoteTtlMs), so a few seconds of lag are safe.
const POLICY_TTL_MS = 10_000;
const MAX_SHARDS = 64;
const LOG_PAGE = 500;

class HttpError extends Error {
  constructor(status, code, message, headers = {}) {
    super(message);
    Object.assign(this, { status, code, headers });
  }
}

/** An error code and message an RPC method returns instead of throwing (RPC keeps no custom error fields). */
const failure = (code, message, status = 400) => ({ error: { code, message, status } });
function unwrap(result) {
  if (result?.error) throw new HttpError(result.error.status ?? 400, result.error.code, result.error.message);
  return result;
}

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers } });
}

function allow(request, method) {
  if (request.method !== method) {
    throw new HttpError(405, 'method_not_allowed', `use ${method} for this endpoint`, { allow: method });
  }
}

/** Reads at most MAX_BODY_BYTES, whatever Content-Length claims, and parses JSON. */
async function readJson(request) {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'body_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
  const reader = request.body?.getReader();
  const chunks = [];
  let size = 0;
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new HttpError(413, 'body_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) { bytes.set(c, offset); offset += c.byteLength; }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body must be JSON (UTF-8)');
  }
}

// ---- Policies -------------------------------------------------------------------------------------

/** A policy as the engine reads it (validated, every field spelled out): `{ policy }` or `{ error }`. */
async function checkedPolicy(source, what) {
  try {
    const p = await createPricer({ model: null, policy: source ?? undefined, consent: 'denied' });
    const policy = p.policy;
    p.free();
    return { policy };
  } catch (e) {
    if (typeof e?.code === 'string') return failure('policy_invalid', `${what} is not a valid policy: ${e.message}`, 503);
    throw e;
  }
}

let baseCache = null; // { raw, result }: env does not change within an isolate
/** The deployed base policy: PRICELET_POLICY (an object or JSON text) when set, else the package's default. */
async function basePolicy(env) {
  const raw = env.PRICELET_POLICY ?? null;
  if (baseCache?.raw !== raw) {
    let source = raw;
    if (typeof raw === 'string') {
      try { source = JSON.parse(raw); } catch { source = undefined; }
      if (source === null || typeof source !== 'object') {
        return failure('policy_invalid', 'PRICELET_POLICY must be a policy as a JSON object (or JSON text); fix the var and deploy again', 503);
      }
    }
    baseCache = { raw, result: await checkedPolicy(source, raw === null ? 'the package\'s default policy' : 'PRICELET_POLICY') };
  }
  return baseCache.result;
}

let served = null; // { policy, baseVersion, stopped, at }: this isolate's copy of the store's answer

/** The policy this Worker serves, prices and verifies with: the policy store's current one. */
async function servedPolicy(env, { fresh = false } = {}) {
  const base = unwrap(await basePolicy(env)).policy;
  // Without a store the base policy is served as is (no loop).
  if (!env.POLICY) return { policy: base, baseVersion: base.version, stopped: false };
  if (!fresh && served && served.baseVersion === base.version && Date.now() - served.at < POLICY_TTL_MS) return served;
  served = { ...unwrap(await policyStore(env).current()), at: Date.now() };
  return served;
}

function policyStore(env) {
  return env.POLICY.get(env.POLICY.idFromName('policy'));
}

// Model and a pricer per policy version, built on the first request that needs them.
let pricer = null; // { version, ready: Promise<Pricer> }
function getPricer(policy) {
  if (pricer?.version !== policy.version) {
    const old = pricer;
    pricer = { version: policy.version, ready: createPricer({ model: new Uint8Array(model), policy, consent: 'denied' }) };
    // Requests that already hold the old pricer use it synchronously, before this runs.
    old?.ready.then((p) => p.free(), () => {});
  }
  return pricer.ready;
}

// ---- Secrets ------------------------------------------------------------------------------------

function signingKeys(env) {
  const key = env.PRICELET_SIGNING_KEY;
  if (typeof key !== 'string' || key.length < 16) {
    throw new HttpError(503, 'signing_key_missing', 'the Worker has no PRICELET_SIGNING_KEY secret (at least 16 characters): run `wrangler secret put PRICELET_SIGNING_KEY`');
  }
  const keyId = env.PRICELET_KEY_ID || 'k1';
  // Rotation: quotes signed with earlier keys still verify while they are listed here.
  let previous = {};
  if (env.PRICELET_PREVIOUS_KEYS) {
    try { previous = JSON.parse(env.PRICELET_PREVIOUS_KEYS); } catch { previous = null; }
    if (previous === null || typeof previous !== 'object' || Array.isArray(previous)) {
      throw new HttpError(503, 'signing_key_invalid', 'PRICELET_PREVIOUS_KEYS must be a JSON object { keyId: secret }');
    }
    for (const [id, secret] of Object.entries(previous)) {
      if (typeof secret !== 'string' || secret.length < 16) {
        throw new HttpError(503, 'signing_key_invalid', `PRICELET_PREVIOUS_KEYS.${id} must be a secret of at least 16 characters, like PRICELET_SIGNING_KEY`);
      }
    }
  }
  return { keyId, key, all: { ...previous, [keyId]: key } };
}

/**
 * Compares a presented secret with the expected one in constant time: both are hashed first, so
 * neither their contents nor their lengths show in the time taken (workerd's
 * crypto.subtle.timingSafeEqual needs inputs of equal length).
 */
async function sameSecret(presented, expected) {
  const digest = async (s) => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  return crypto.subtle.timingSafeEqual(await digest(presented), await digest(expected));
}

/** The policy admin endpoints change what every shopper is quoted: they need their own secret. */
async function requireAdmin(request, env) {
  const token = env.PRICELET_ADMIN_TOKEN;
  if (typeof token !== 'string' || token.length < 16) {
    throw new HttpError(503, 'admin_token_missing', 'the Worker has no PRICELET_ADMIN_TOKEN secret (at least 16 characters): run `wrangler secret put PRICELET_ADMIN_TOKEN` to use the /policy admin endpoints');
  }
  if (!(await sameSecret(request.headers.get('authorization') ?? '', `Bearer ${token}`))) {
    throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <PRICELET_ADMIN_TOKEN>', { 'www-authenticate': 'Bearer' });
  }
}

// ---- Pricing and verification -------------------------------------------------------------------

async function price(request, env) {
  allow(request, 'POST');
  const keys = signingKeys(env);
  const body = await readJson(request);
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(body.items)) {
    throw new HttpError(400, 'invalid_request', 'send { items: [...], features?, featureNames?, variant? } as produced by pricer.edgeRequest(items)');
  }
  if (body.items.length > MAX_EDGE_ITEMS) throw new HttpError(400, 'limit_exceeded', `at most ${MAX_EDGE_ITEMS} items per request`);
  const p = await getPricer((await servedPolicy(env)).policy);
  let quotes;
  try {
    // Priced and signed in one call into the engine (one boundary crossing, not one per quote).
    quotes = p.priceFromFeatures(body, { sign: { keyId: keys.keyId, key: keys.key } });
  } catch (e) {
    if (typeof e?.code === 'string') throw new HttpError(400, e.code, e.message);
    throw e;
  }
  return json(200, { quotes });
}

async function verify(request, env) {
  allow(request, 'POST');
  const keys = signingKeys(env);
  const body = await readJson(request);
  if (body === null || typeof body !== 'object' || typeof body.quote !== 'object' || body.quote === null) {
    throw new HttpError(400, 'invalid_request', 'send { quote, item?, quantity? }: the quote (or its toCheckout payload)');
  }
  // The server's own catalog item wins; a given item is used only for ids the catalog does not know.
  const own = CATALOG.get(body.quote.itemId);
  const item = own ?? body.item;
  if (!item) throw new HttpError(400, 'unknown_item', `item ${JSON.stringify(String(body.quote.itemId))} is not in the catalog; send it as "item"`);
  let current = await servedPolicy(env);
  // A version this isolate does not know yet may be one another isolate just began to serve: ask
  // the store again, at most once a second, so bogus versions cannot flood it.
  if (body.quote.policyVersion !== current.policy.version && current.at !== undefined && Date.now() - current.at > 1000) {
    current = await servedPolicy(env, { fresh: true });
  }
  try {
    // A quantity that is not a positive whole number fails verification (invalid_quantity), as in the package.
    const options = { keys: keys.all, now: Date.now(), ...('quantity' in body ? { quantity: body.quantity } : {}) };
    // The current policy names the version it replaced and until when its quotes still verify.
    const result = await verifyQuote(body.quote, item, current.policy, options);
    return json(200, { ...result, itemSource: own ? 'catalog' : 'request' });
  } catch (e) {
    if (typeof e?.code === 'string') throw new HttpError(400, e.code, e.message);
    throw e;
  }
}

// ---- Measurement reports ------------------------------------------------------------------------

/** One shard of the tally of one base policy's reports. Reports are folded in and dropped at once. */
export class ReportTally extends DurableObject {
  /** `{ total }` (reports in this shard), or `{ error }`. `policy` gives the reporting setup. */
  async add(reports, policy = null) {
    // One read-modify-write at a time, so concurrent batches never lose each other's counts.
    return this.ctx.blockConcurrencyWhile(async () => {
      let next;
      try {
        next = await tallyReports(reports, (await this.ctx.storage.get('tally')) ?? null, { policy });
      } catch (e) {
        if (typeof e?.code === 'string') return failure(e.code, e.message);
        throw e;
      }
      await this.ctx.storage.put('tally', next);
      return { total: next.n };
    });
  }

  async tally() {
    return (await this.ctx.storage.get('tally')) ?? null;
  }
}

function shardCount(env) {
  const k = Number(env.PRICELET_TALLY_SHARDS ?? 1);
  if (!Number.isInteger(k) || k < 1 || k > MAX_SHARDS) {
    throw new HttpError(503, 'shards_invalid', `PRICELET_TALLY_SHARDS must be a whole number from 1 to ${MAX_SHARDS} (default 1): fix the var and deploy again`);
  }
  return k;
}

/**
 * The shards of the current reporting setup. All loop versions of a base policy report in the same
 * domain, so they share its tally; shard 0 keeps the name of the single tally (`tally:<version>`).
 */
function shards(env, current) {
  if (!env.REPORTS) throw new HttpError(503, 'reports_unavailable', 'this Worker has no REPORTS Durable Object binding (see worker/wrangler.jsonc)');
  if (!current.policy.reporting) throw new HttpError(409, 'reporting_off', `policy ${current.policy.version} has no "reporting" section: devices make no reports under it`);
  return Array.from({ length: shardCount(env) }, (_, k) => env.REPORTS.get(env.REPORTS.idFromName(k === 0 ? `tally:${current.baseVersion}` : `tally:${current.baseVersion}:${k}`)));
}

/** The tally of every shard, merged (sums merge exactly), or null before any report. */
async function mergedTally(env, current) {
  const tallies = await Promise.all(shards(env, current).map((s) => s.tally()));
  if (tallies.every((t) => t === null)) return null;
  return mergeTallies(tallies, { policy: current.policy });
}

/** Per-client limits: the connecting IP is only the rate limiter's key, for its period; never kept here. */
async function limitClient(request, env) {
  if (!env.REPORT_LIMIT) return;
  const { success } = await env.REPORT_LIMIT.limit({ key: request.headers.get('cf-connecting-ip') ?? 'unknown' });
  if (!success) {
    throw new HttpError(429, 'rate_limited', 'too many report requests from this client: a device sends a few reports a day; retry in a minute', { 'retry-after': '60' });
  }
}

async function report(request, env) {
  allow(request, 'POST');
  await limitClient(request, env);
  const body = await readJson(request);
  if (body === null || typeof body !== 'object' || !Array.isArray(body.reports) || body.reports.length === 0) {
    throw new HttpError(400, 'invalid_request', 'send { reports: [...] }: the reports pricer.report() returned (at least one)');
  }
  if (body.reports.length > MAX_EDGE_ITEMS) throw new HttpError(400, 'limit_exceeded', `at most ${MAX_EDGE_ITEMS} reports per request`);
  const current = await servedPolicy(env);
  const all = shards(env, current);
  // A device's daily ε budget allows at most this many reports a day: a bigger batch is not one device's.
  const { epsilon, dailyEpsilon } = current.policy.reporting;
  const perDevice = Math.floor(dailyEpsilon / epsilon);
  if (body.reports.length > perDevice) {
    throw new HttpError(429, 'too_many_reports', `a device makes at most ${perDevice} reports a day under policy ${current.policy.version} (reporting.dailyEpsilon / reporting.epsilon): send at most ${perDevice} per request, one device's at a time`, { 'retry-after': '86400' });
  }
  // A random shard per batch spreads the writes; /estimates and the proposer merge them all.
  const k = crypto.getRandomValues(new Uint32Array(1))[0] % all.length;
  const result = unwrap(await all[k].add(body.reports, current.policy));
  return json(202, { accepted: body.reports.length, total: result.total, shard: k });
}

async function readEstimates(request, env) {
  allow(request, 'GET');
  const token = env.PRICELET_ESTIMATES_TOKEN;
  if (token && !(await sameSecret(request.headers.get('authorization') ?? '', `Bearer ${token}`))) {
    throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <PRICELET_ESTIMATES_TOKEN>', { 'www-authenticate': 'Bearer' });
  }
  const current = await servedPolicy(env);
  const tally = await mergedTally(env, current);
  if (!tally || tally.n === 0) throw new HttpError(404, 'no_reports', 'no reports yet for the current policy');
  return json(200, await estimates(tally, { policy: current.policy }), { 'pricelet-tally-shards': String(shardCount(env)) });
}

// ---- The learning loop --------------------------------------------------------------------------

/**
 * The served policy and the loop's audit log. The base policy is the deployed one (PRICELET_POLICY
 * or the package default); proposals replace the current policy, the kill switch brings the base
 * back. Everything is in storage, so it survives restarts and deploys.
 */
export class PolicyStore extends DurableObject {
  #state = null;

  /** The stored state, started over (and logged) when the deployed base policy changed. */
  async #load(now = Date.now()) {
    const base = await basePolicy(this.env);
    if (base.error) return base;
    const s = this.#state ?? (await this.ctx.storage.get('state')) ?? null;
    if (s && s.baseVersion === base.policy.version) return (this.#state = s);
    if (!s) {
      const next = { baseVersion: base.policy.version, current: base.policy, stopped: false, lastLoop: 0, seq: 0 };
      await this.#commit(next, { at: now, action: 'start', reason: `the loop starts from the deployed base policy ${base.policy.version}`, fromVersion: null, toVersion: base.policy.version, policy: base.policy });
      return next;
    }
    // Quotes of the version served until now still verify for a while, unless the new base names
    // its own previousVersion.
    const current = base.policy.previousVersion ? base.policy : await replacing(base.policy, s.current, now);
    const next = { baseVersion: base.policy.version, current, stopped: false, lastLoop: 0, seq: s.seq };
    await this.#commit(next, { at: now, action: 'new_base', reason: `the deployed base policy is ${base.policy.version} (was ${s.baseVersion}): the loop starts over from it`, fromVersion: s.current.version, toVersion: base.policy.version, policy: current });
    return next;
  }

  /** Saves the state and appends one log entry, in one write. */
  async #commit(state, entry) {
    state.seq += 1;
    const logged = { seq: state.seq, ...entry };
    await this.ctx.storage.put({ state, [`log:${String(state.seq).padStart(12, '0')}`]: logged });
    this.#state = state;
    return logged;
  }

  #locked(fn) {
    return this.ctx.blockConcurrencyWhile(async () => {
      try {
        return await fn();
      } catch (e) {
        if (typeof e?.code === 'string') return failure(e.code, e.message, 500);
        throw e;
      }
    });
  }

  async current() {
    return this.#locked(async () => {
      const s = await this.#load();
      if (s.error) return s;
      return { policy: s.current, baseVersion: s.baseVersion, stopped: s.stopped };
    });
  }

  /** Runs the proposer on `tally` (the merged tally of `baseVersion`'s shards) and logs its decision. */
  async decide(tally, { baseVersion, trigger, now }) {
    return this.#locked(async () => {
      const s = await this.#load(now);
      if (s.error) return s;
      if (s.baseVersion !== baseVersion) return failure('policy_changed', `the base policy changed to ${s.baseVersion} while the tally was read: retry`, 409);
      if (!s.current.learning) return failure('learning_off', `policy ${s.current.version} has no "learning" section, so the loop is off: deploy a policy with one (see policy/learning.json) as PRICELET_POLICY`, 409);
      const decision = await proposePolicy(s.current, tally, { now });
      const next = { ...s };
      if (s.stopped) {
        // The evidence is still logged; nothing changes until POST /policy/resume.
        Object.assign(decision, { action: 'stopped', reason: `the kill switch is on (POST /policy/stop): no change; the proposer would have said ${decision.action}: ${decision.reason}`, toVersion: null, betaAfter: decision.betaBefore, policy: null });
      } else if (decision.policy) {
        // A version name is never given twice: after a stop the loop starts again from the base,
        // and a quote of an earlier `+loop.N` must not verify under a different β.
        const n = Number(/\+loop\.(\d+)$/.exec(decision.toVersion)?.[1] ?? 0);
        if (n <= s.lastLoop) {
          decision.toVersion = decision.toVersion.replace(/\+loop\.\d+$/, `+loop.${s.lastLoop + 1}`);
          decision.policy.version = decision.toVersion;
        }
        next.current = decision.policy;
        next.lastLoop = Math.max(s.lastLoop + 1, n);
      }
      return { entry: await this.#commit(next, { trigger, ...decision }) };
    });
  }

  /** The kill switch: serve the base policy again; quotes of the version it replaces verify for graceMs. */
  async stop({ now }) {
    return this.#locked(async () => {
      const s = await this.#load(now);
      if (s.error) return s;
      if (s.stopped) return { entry: null, policy: s.current, stopped: true };
      const base = unwrap(await basePolicy(this.env)).policy;
      // Serving the base already (no proposal yet, or stopped before): keep it as it is, with any grace it gives.
      const current = s.current.version === base.version ? s.current : await replacing(base, s.current, now);
      const entry = await this.#commit({ ...s, current, stopped: true }, { at: now, action: 'stop', reason: `POST /policy/stop: the kill switch is on; the base policy ${base.version} is served again and proposals change nothing until POST /policy/resume`, fromVersion: s.current.version, toVersion: base.version, policy: current });
      return { entry, policy: current, stopped: true };
    });
  }

  async resume({ now }) {
    return this.#locked(async () => {
      const s = await this.#load(now);
      if (s.error) return s;
      if (!s.stopped) return { entry: null, policy: s.current, stopped: false };
      const entry = await this.#commit({ ...s, stopped: false }, { at: now, action: 'resume', reason: `POST /policy/resume: the kill switch is off; the loop goes on from ${s.current.version}`, fromVersion: s.current.version, toVersion: s.current.version, policy: null });
      return { entry, policy: s.current, stopped: false };
    });
  }

  /** Log entries after `after` (a seq), oldest first, at most `limit`. */
  async log({ after = 0, limit = LOG_PAGE } = {}) {
    const entries = [...(await this.ctx.storage.list({ prefix: 'log:', start: `log:${String(after + 1).padStart(12, '0')}`, limit })).values()];
    return { entries, next: entries.length === limit ? entries[entries.length - 1].seq : null };
  }
}

/** `policy` replacing `old`: quotes of `old` verify until they expire (its graceMs, at least its quoteTtlMs). */
async function replacing(policy, old, now) {
  if (old.version === policy.version) return policy;
  const grace = Math.max(old.learning?.graceMs ?? 0, old.quoteTtlMs);
  return unwrap(await checkedPolicy({ ...policy, previousVersion: { version: old.version, acceptUntil: now + grace } }, `policy ${policy.version} with previousVersion`)).policy;
}

/** Proposer run of POST /policy/propose and of the Cron Trigger: the decision, logged. */
async function runProposer(env, trigger) {
  if (!env.POLICY) throw new HttpError(503, 'policy_store_unavailable', 'this Worker has no POLICY Durable Object binding (see worker/wrangler.jsonc)');
  const current = await servedPolicy(env, { fresh: true });
  if (!current.policy.learning) {
    throw new HttpError(409, 'learning_off', `policy ${current.policy.version} has no "learning" section, so the loop is off: deploy a policy with one (see policy/learning.json) as PRICELET_POLICY`);
  }
  const tally = await mergedTally(env, current);
  const { entry } = unwrap(await policyStore(env).decide(tally, { baseVersion: current.baseVersion, trigger, now: Date.now() }));
  served = null; // the next request reads the new current policy
  return entry;
}

const ETAG_UNSAFE = /[^\x21\x23-\x7e]/g;
const etagOf = (version) => `"${version.replace(ETAG_UNSAFE, (c) => encodeURIComponent(c))}"`;

async function getPolicy(request, env) {
  allow(request, 'GET');
  const { policy } = await servedPolicy(env);
  // Devices load the policy from here: a minute of caching; a version change changes the ETag.
  const headers = { etag: etagOf(policy.version), 'cache-control': 'public, max-age=60' };
  const match = (request.headers.get('if-none-match') ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (match.includes(headers.etag) || match.includes('*')) return new Response(null, { status: 304, headers });
  return json(200, policy, headers);
}

async function propose(request, env) {
  allow(request, 'POST');
  await requireAdmin(request, env);
  return json(200, await runProposer(env, 'admin'));
}

async function policyLog(request, env) {
  allow(request, 'GET');
  await requireAdmin(request, env);
  if (!env.POLICY) throw new HttpError(503, 'policy_store_unavailable', 'this Worker has no POLICY Durable Object binding (see worker/wrangler.jsonc)');
  const after = Number(new URL(request.url).searchParams.get('after') ?? 0);
  if (!Number.isSafeInteger(after) || after < 0) throw new HttpError(400, 'invalid_request', 'after must be the seq of a log entry (a whole number), as `next` of the previous page says');
  await servedPolicy(env, { fresh: true }); // a store that never served yet logs its start first
  return json(200, await policyStore(env).log({ after }));
}

function switchTo(action) {
  return async (request, env) => {
    allow(request, 'POST');
    await requireAdmin(request, env);
    if (!env.POLICY) throw new HttpError(503, 'policy_store_unavailable', 'this Worker has no POLICY Durable Object binding (see worker/wrangler.jsonc)');
    unwrap(await basePolicy(env));
    const result = unwrap(await policyStore(env)[action]({ now: Date.now() }));
    served = null;
    return json(200, { stopped: result.stopped, version: result.policy.version, entry: result.entry });
  };
}

async function health(request, env) {
  allow(request, 'GET');
  const s = (await getPricer((await servedPolicy(env)).policy)).status;
  return json(200, { ok: s.model.state === 'ready', model: s.model.info?.version ?? null, modelState: s.model.state, policy: s.policyVersion, engineResets: s.engineResets, wasmMemoryBytes: s.wasmMemoryBytes });
}

const ROUTES = {
  '/price': price, '/verify': verify, '/health': health, '/report': report, '/estimates': readEstimates,
  '/policy': getPolicy, '/policy/propose': propose, '/policy/log': policyLog, '/policy/stop': switchTo('stop'), '/policy/resume': switchTo('resume'),
};

export default {
  async fetch(request, env) {
    const route = ROUTES[new URL(request.url).pathname];
    try {
      if (route) return await route(request, env);
      if (env.ASSETS) return await env.ASSETS.fetch(request);
      throw new HttpError(404, 'not_found', `no such endpoint: ${Object.keys(ROUTES).join(', ')}`);
    } catch (e) {
      if (e instanceof HttpError) return json(e.status, { code: e.code, message: e.message }, e.headers);
      // Never a stack trace: the engine resets itself after a trap; the caller may retry.
      return json(500, { code: 'internal', message: 'the Worker could not complete this request; retry it' });
    }
  },

  /** The Cron Trigger runs the proposer like POST /policy/propose; a policy without `learning` has no loop to run. */
  async scheduled(controller, env) {
    try {
      await runProposer(env, 'cron');
    } catch (e) {
      if (e instanceof HttpError && e.code === 'learning_off') return;
      throw e;
    }
  },
};
