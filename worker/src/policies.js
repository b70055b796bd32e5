// The policies the Worker serves: the deployed base policy, the policy store's current version (the
// learning loop may have replaced the base), and a pricer per version.
import { createPricer, validatePolicy } from 'pricelet';
import model from 'pricelet/models/interest.onnx';
import { digest, failure, unwrap } from './http.js';

// How long an isolate trusts its copy of the served policy before asking the store again. Quotes of
// a replaced version verify for learning.graceMs (≥ quoteTtlMs), so a few seconds of lag are safe.
const POLICY_TTL_MS = 10_000;

/** A policy as the engine reads it (validated, every field spelled out): `{ policy }` or `{ error }`. */
export async function checkedPolicy(source, what) {
  try {
    return { policy: await validatePolicy(source ?? null) };
  } catch (e) {
    if (typeof e?.code === 'string') return failure('policy_invalid', `${what} is not a valid policy: ${e.message}`, 503);
    throw e;
  }
}

let baseCache = null; // { raw, result }: env does not change within an isolate
/** The deployed base policy: PRICELET_POLICY (an object or JSON text) when set, else the package's default. */
export async function basePolicy(env) {
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

export function policyStore(env) {
  return env.POLICY.get(env.POLICY.idFromName('policy'));
}

let served = null; // { policy, baseVersion, stopped, round, at }: this isolate's copy of the store's answer

/**
 * The policy this Worker serves, prices and verifies with: the policy store's current one, with the
 * collection round reports go to.
 */
export async function servedPolicy(env, { fresh = false } = {}) {
  const base = unwrap(await basePolicy(env)).policy;
  // Without a store the base policy is served as is (no loop).
  if (!env.POLICY) return { policy: base, baseVersion: base.version, stopped: false, round: 0 };
  if (!fresh && served && served.baseVersion === base.version && Date.now() - served.at < POLICY_TTL_MS) return served;
  served = { ...unwrap(await policyStore(env).current()), at: Date.now() };
  return served;
}

/** The next request reads the store again (after a change this isolate made). */
export function forgetServed() {
  served = null;
}

/** An ETag of the policy's bytes as served: two different policies never share one, whatever their names. */
export async function etagOf(body) {
  return `"${(await digest(body)).slice(0, 27)}"`;
}

// Model and a pricer per policy version, built on the first request that needs them.
let pricer = null; // { version, ready: Promise<Pricer> }
export function getPricer(policy) {
  if (pricer?.version !== policy.version) {
    const old = pricer;
    pricer = { version: policy.version, ready: createPricer({ model: new Uint8Array(model), policy, consent: 'denied' }) };
    // Requests that already hold the old pricer use it synchronously, before this runs.
    old?.ready.then((p) => p.free(), () => {});
  }
  return pricer.ready;
}
