// createPricer's options turned into what the engine's pricer takes: the policy and models loaded
// from what the caller names, the storage chosen, the rest as JSON text the engine checks.
import { pricerError } from './errors.js';
import { asBytes, wire, wirePolicy } from './wire.js';

/** Models shipped in the package's models/ folder. */
const BUNDLED_MODELS = ['interest', 'interest-behaviour'];

/** A `{ load, save }` store in JS memory: the page-session store for consent 'unknown'. */
export function memoryStore() {
  let state = null;
  return { load: () => state, save: (s) => { state = s; } };
}

/** The checks that need no engine, so a bad call fails before the engine loads. */
export function checkOptions(options) {
  if (options === null || typeof options !== 'object') throw pricerError('invalid_argument', 'createPricer takes an options object (or nothing)', 'options');
  if (options.bundledModel !== undefined && !BUNDLED_MODELS.includes(options.bundledModel)) {
    throw pricerError('invalid_argument', `bundledModel must be one of ${BUNDLED_MODELS.join(', ')}`, 'bundledModel');
  }
}

/** Model option → [bytes | null, error message | null]. A bad model never rejects createPricer. */
async function resolveModel(platform, option, what) {
  if (option === null || option === false) return [null, null];
  try {
    let source = option;
    let integrity = null;
    if (option && typeof option === 'object' && !asBytes(option) && !(option instanceof URL)) {
      source = option.bytes ?? option.url;
      integrity = option.integrity ?? null;
    }
    let bytes = asBytes(source);
    if (!bytes) {
      if (typeof source !== 'string' && !(source instanceof URL)) {
        throw new Error(`${what} must be bytes, a URL, or { url | bytes, integrity }`);
      }
      bytes = await platform.readBytes(source);
    }
    if (integrity !== null) platform.engine.checkIntegrity(bytes, integrity, what);
    return [bytes, null];
  } catch (e) {
    return [null, `${what} could not be loaded: ${e?.message ?? String(e)}`];
  }
}

async function resolvePolicy(platform, option) {
  if (option === undefined || option === null) return null; // the engine's bundled default policy
  if (typeof option === 'string' || option instanceof URL) {
    try {
      const bytes = await platform.readBytes(option);
      try {
        // Never U+FFFD for bytes that are not UTF-8: an exclusion spelled in Latin-1 would
        // silently stop matching its items.
        return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new Error('it is not UTF-8 text; save the policy file as UTF-8 (JSON is always UTF-8)');
      }
    } catch (e) {
      throw pricerError('invalid_policy', `the policy could not be loaded from ${option}: ${e.message}`, 'policy');
    }
  }
  if (typeof option === 'object') return option;
  throw pricerError('invalid_policy', 'policy must be an object, JSON text from a URL, or omitted for the bundled default', 'policy');
}

/**
 * The pricer's inputs from checked `options` (the engine loaded, its `constants` read): policy and
 * config as JSON text, models as [bytes, error], the storage hooks, and whether to watch localStorage.
 */
export async function pricerInputs(platform, options, { consents, storageKey }) {
  if (options.consent !== undefined && !consents.includes(options.consent)) {
    throw pricerError('invalid_argument', `consent must be one of ${consents.join(', ')}`, 'consent');
  }
  const policy = wirePolicy(await resolvePolicy(platform, options.policy));
  const interestSource = options.model === undefined ? platform.defaultModel(options.bundledModel ?? 'interest') : options.model;
  const upliftSource = options.upliftModel === undefined ? (options.bundledUpliftModel ? platform.defaultModel('uplift') : null) : options.upliftModel;
  const [model, modelError] = await resolveModel(platform, interestSource, 'model');
  const [uplift, upliftError] = await resolveModel(platform, upliftSource, 'upliftModel');
  const models = {
    interest: [model, modelError ?? (model === null && interestSource !== null ? 'no model was given' : undefined)],
    uplift: [uplift, upliftError ?? undefined],
  };
  // 'memory' is a JS-side store, so the state survives an engine reset.
  const memory = options.storage === 'memory' || (options.storage === undefined && !platform.hasLocalStorage());
  const adapter = memory ? memoryStore() : (options.storage !== null && typeof options.storage === 'object' ? options.storage : undefined);
  const config = wire({
    consent: options.consent ?? 'unknown',
    respectGlobalPrivacyControl: options.respectGlobalPrivacyControl,
    anonId: options.anonId,
    stabilityTtlMs: options.stabilityTtlMs,
    utcOffsetMinutes: options.utcOffsetMinutes,
    storage: adapter ? 'adapter' : options.storage,
    storageKey: options.storageKey,
  }, 'invalid_argument', 'the options');
  return {
    policy,
    models,
    config,
    storage: adapter,
    watchLocal: !adapter && (options.storage === undefined || options.storage === 'local'),
    storageKey: options.storageKey ?? storageKey,
  };
}
