// The learning loop at the edge: the policy store (the served version, the loop's state and its
// audit log, in a Durable Object), the proposer's runs (Cron Trigger and POST /policy/propose), the
// kill switch, and GET /policy for devices. The decisions themselves — guardrails, version names,
// validation — are the engine's (proposePolicy); this file keeps state and order.
import { DurableObject } from 'cloudflare:workers';
import { policyRules, proposePolicy } from 'pricelet';
import { HttpError, allow, failure, json, unwrap } from './http.js';
import { basePolicy, checkedPolicy, etagOf, forgetServed, policyStore, servedPolicy } from './policies.js';
import { roundTallies } from './reports.js';
import { requireAdmin } from './secrets.js';

const LOG_PAGE = 500;
const logKey = (seq) => `log:${String(seq).padStart(12, '0')}`;
/** Every version the store ever served: a name is never given to two different policies. */
const issuedKey = (version) => `issued:${version}`;

/**
 * The served policy, the loop's state and its audit log. The base policy is the deployed one
 * (PRICELET_POLICY or the package default); proposals replace the current policy, the kill switch
 * brings the base back. Everything is in storage, so it survives restarts and deploys.
 *
 * State: `{ baseVersion, current, stopped, lastLoop, seq, round }` — `lastLoop` numbers the loop's
 * versions and never goes back (not on a new base, not after a stop); `round` is the open
 * collection round of /report (each proposer run closes one).
 */
export class PolicyStore extends DurableObject {
  #state = null;

  /** The stored state, started over (and logged) when the deployed base policy changed. */
  async #load(now = Date.now()) {
    const base = await basePolicy(this.env);
    if (base.error) return base;
    const s = this.#state ?? (await this.ctx.storage.get('state')) ?? null;
    if (s && s.baseVersion === base.policy.version) return (this.#state = { round: 1, ...s });
    if (!s) {
      const next = { baseVersion: base.policy.version, current: base.policy, stopped: false, lastLoop: 0, seq: 0, round: 1 };
      await this.#commit(next, { at: now, action: 'start', reason: `the loop starts from the deployed base policy ${base.policy.version}`, fromVersion: null, toVersion: base.policy.version, policy: base.policy });
      return next;
    }
    // Quotes of the version served until now still verify for a while, unless the new base names
    // its own previousVersion. A stop outlives the deploy: only POST /policy/resume lifts it.
    const current = base.policy.previousVersion ? base.policy : await replacing(base.policy, s.current, now);
    const next = { ...s, round: s.round ?? 1, baseVersion: base.policy.version, current };
    const stays = s.stopped ? '; the kill switch stays on until POST /policy/resume' : '';
    await this.#commit(next, { at: now, action: 'new_base', reason: `the deployed base policy is ${base.policy.version} (was ${s.baseVersion}): the loop starts over from it${stays}`, fromVersion: s.current.version, toVersion: base.policy.version, policy: current });
    return next;
  }

  /**
   * Saves the state and appends one log entry, in one write. The served policy is validated by
   * the engine first: nothing a device would refuse is ever stored.
   */
  async #commit(state, entry) {
    unwrap(await checkedPolicy(state.current, `the policy ${state.current.version} the loop would serve`));
    state.seq += 1;
    const logged = { seq: state.seq, ...entry };
    await this.ctx.storage.put({ state, [logKey(state.seq)]: logged, [issuedKey(state.current.version)]: entry.at });
    this.#state = state;
    return logged;
  }

  #locked(fn) {
    return this.ctx.blockConcurrencyWhile(async () => {
      try {
        return await fn();
      } catch (e) {
        if (e instanceof HttpError) return failure(e.code, e.message, e.status);
        if (typeof e?.code === 'string') return failure(e.code, e.message, 500);
        throw e;
      }
    });
  }

  async current() {
    return this.#locked(async () => {
      const s = await this.#load();
      if (s.error) return s;
      return { policy: s.current, baseVersion: s.baseVersion, stopped: s.stopped, round: s.round };
    });
  }

  /** Closes the open collection round: reports from now on count in the next one. */
  async closeRound({ now }) {
    return this.#locked(async () => {
      const s = await this.#load(now);
      if (s.error) return s;
      const closed = s.round;
      this.#state = { ...s, round: closed + 1 };
      await this.ctx.storage.put('state', this.#state);
      return { closed, baseVersion: s.baseVersion, policy: s.current };
    });
  }

  /**
   * Runs the proposer on `rounds` (the tallies of `baseVersion`'s collection rounds, oldest first)
   * and logs its decision. A proposer that cannot decide is logged as a hold: the Cron never fails.
   */
  async decide(rounds, { baseVersion, trigger, now }) {
    return this.#locked(async () => {
      const s = await this.#load(now);
      if (s.error) return s;
      if (s.baseVersion !== baseVersion) return failure('policy_changed', `the base policy changed to ${s.baseVersion} while the tally was read: retry`, 409);
      if (!s.current.learning) return failure('learning_off', `policy ${s.current.version} has no "learning" section, so the loop is off: deploy a policy with one (see policy/learning.json) as PRICELET_POLICY`, 409);
      let decision;
      let sequence = s.lastLoop + 1;
      try {
        // The engine names the version; a name this store ever served is skipped.
        for (;;) {
          decision = await proposePolicy(s.current, rounds, { now, baseVersion: s.baseVersion, sequence });
          if (!decision.toVersion || (await this.ctx.storage.get(issuedKey(decision.toVersion))) === undefined) break;
          sequence += 1;
        }
      } catch (e) {
        if (typeof e?.code !== 'string') throw e;
        return { entry: await this.#commit({ ...s }, { at: now, trigger, action: 'hold', reason: `the proposer could not decide (${e.code}): ${e.message}`, fromVersion: s.current.version, toVersion: null, policy: null }) };
      }
      const next = { ...s };
      if (s.stopped) {
        // The evidence is still logged; nothing changes until POST /policy/resume.
        Object.assign(decision, { action: 'stopped', reason: `the kill switch is on (POST /policy/stop): no change; the proposer would have said ${decision.action}: ${decision.reason}`, toVersion: null, betaAfter: decision.betaBefore, policy: null });
      } else if (decision.policy) {
        next.current = decision.policy;
        next.lastLoop = sequence;
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
    const entries = [...(await this.ctx.storage.list({ prefix: 'log:', start: logKey(after + 1), limit })).values()];
    return { entries, next: entries.length === limit ? entries[entries.length - 1].seq : null };
  }
}

/** `policy` replacing `old`: quotes of `old` verify until they expire (its graceMs, at least its quoteTtlMs). */
async function replacing(policy, old, now) {
  if (old.version === policy.version) return policy;
  const grace = (await policyRules(old)).graceWhenReplacedMs;
  return unwrap(await checkedPolicy({ ...policy, previousVersion: { version: old.version, acceptUntil: now + grace } }, `policy ${policy.version} with previousVersion`)).policy;
}

function requireStore(env) {
  if (!env.POLICY) throw new HttpError(503, 'policy_store_unavailable', 'this Worker has no POLICY Durable Object binding (see worker/wrangler.jsonc)');
}

/**
 * A run of the proposer (POST /policy/propose and the Cron Trigger): closes the collection round,
 * reads every round's tally, and logs the decision.
 */
export async function runProposer(env, trigger) {
  requireStore(env);
  const current = await servedPolicy(env, { fresh: true });
  if (!current.policy.learning) {
    throw new HttpError(409, 'learning_off', `policy ${current.policy.version} has no "learning" section, so the loop is off: deploy a policy with one (see policy/learning.json) as PRICELET_POLICY`);
  }
  const now = Date.now();
  const { closed, baseVersion } = unwrap(await policyStore(env).closeRound({ now }));
  const rounds = (await roundTallies(env, { ...current, baseVersion }, closed)).map((r) => r.tally);
  const { entry } = unwrap(await policyStore(env).decide(rounds, { baseVersion, trigger, now }));
  forgetServed(); // the next request reads the new current policy
  return entry;
}

export async function getPolicy(request, env) {
  allow(request, 'GET');
  const { policy } = await servedPolicy(env);
  const body = JSON.stringify(policy);
  // Devices load the policy from here: a minute of caching; other bytes, another ETag.
  const headers = { etag: await etagOf(body), 'cache-control': 'public, max-age=60' };
  const match = (request.headers.get('if-none-match') ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (match.includes(headers.etag) || match.includes('*')) return new Response(null, { status: 304, headers });
  return new Response(body, { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
}

export async function propose(request, env) {
  allow(request, 'POST');
  await requireAdmin(request, env);
  return json(200, await runProposer(env, 'admin'));
}

export async function policyLog(request, env) {
  allow(request, 'GET');
  await requireAdmin(request, env);
  requireStore(env);
  const after = Number(new URL(request.url).searchParams.get('after') ?? 0);
  if (!Number.isSafeInteger(after) || after < 0) throw new HttpError(400, 'invalid_request', 'after must be the seq of a log entry (a whole number), as `next` of the previous page says');
  await servedPolicy(env, { fresh: true }); // a store that never served yet logs its start first
  return json(200, await policyStore(env).log({ after }));
}

/** What the merchant console shows of the store: the served policy, the base version, the kill switch, the open round. */
export async function policyStatus(request, env) {
  allow(request, 'GET');
  await requireAdmin(request, env);
  requireStore(env);
  const { policy, baseVersion, stopped, round } = await servedPolicy(env, { fresh: true });
  return json(200, { policy, baseVersion, stopped, round, now: Date.now() });
}

export function switchTo(action) {
  return async (request, env) => {
    allow(request, 'POST');
    await requireAdmin(request, env);
    requireStore(env);
    unwrap(await basePolicy(env));
    const result = unwrap(await policyStore(env)[action]({ now: Date.now() }));
    forgetServed();
    return json(200, { stopped: result.stopped, version: result.policy.version, entry: result.entry });
  };
}
