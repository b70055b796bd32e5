// The thin JS wrapper shared by every entry point (web, node, workerd). It loads files the caller
// names, keeps what an engine reset needs (the compiled module, the model bytes, the options, a
// page-session memory store), and forwards every call to the Rust engine. No pricing logic lives here.
import * as engine from '../dist/pricelet.js';

const CONSENTS = ['granted', 'denied', 'unknown'];
/** Models shipped in the package's models/ folder (see models/README.md). */
const BUNDLED_MODELS = ['interest', 'interest-behaviour'];

let compiled = null; // WebAssembly.Module, kept for resets
let generation = 0; // bumps on every (re)instantiation; pricers rebuild their engine object when it moves
let engineResets = 0;
let loading = null;

function initEngine(module) {
  engine.initSync({ module });
  compiled = module;
  generation += 1;
}

/** A wasm trap (panic, OOM, unreachable) kills the instance: re-create it from the cached module. */
function resetEngine() {
  engineResets += 1;
  initEngine(compiled);
}

function isTrap(e) {
  return e instanceof WebAssembly.RuntimeError;
}

function pricerError(code, message, field = null) {
  return Object.assign(new Error(message), { code, field });
}

/** A `{ load, save }` store in JS memory: the page-session store for consent 'unknown'. */
function memoryStore() {
  let state = null;
  return { load: () => state, save: (s) => { state = s; } };
}

function asBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

/**
 * The API of one platform. `platform` = { loadModule(source) -> Promise<WebAssembly.Module> | Module,
 * readBytes(urlOrPath) -> Promise<Uint8Array>, defaultModel(name) -> URL | string | null, hasLocalStorage(),
 * watchStorage(key, onChange) -> unwatch, listQuote?(item, policy, now), toCheckout?(quote) } — the last
 * two from the lite wasm where the engine cannot be ready synchronously.
 */
export function makeApi(platform) {
  async function ensureEngine(wasm) {
    if (compiled) return;
    loading ??= (async () => {
      try {
        const module = await platform.loadModule(wasm);
        if (!compiled) initEngine(module);
      } catch (e) {
        loading = null;
        throw pricerError('engine_unavailable', `could not load pricelet's WebAssembly engine: ${e.message}. ` +
          'Serve dist/pricelet_bg.wasm as application/wasm (or pass `wasm` to createPricer), and allow ' +
          "'wasm-unsafe-eval' in your Content-Security-Policy's script-src.");
      }
    })();
    await loading;
  }

  /** Model option → [bytes | null, error message | null]. A bad model never rejects createPricer. */
  async function resolveModel(option, what) {
    if (option === null || option === false) return [null, null];
    let source = option;
    let integrity = null;
    if (option && typeof option === 'object' && !asBytes(option) && !(option instanceof URL)) {
      source = option.bytes ?? option.url;
      integrity = option.integrity ?? null;
    }
    try {
      let bytes = asBytes(source);
      if (!bytes) {
        if (typeof source !== 'string' && !(source instanceof URL)) {
          throw new Error(`${what} must be bytes, a URL, or { url | bytes, integrity }`);
        }
        bytes = await platform.readBytes(source);
      }
      if (integrity) engine.checkIntegrity(bytes, integrity, what);
      return [bytes, null];
    } catch (e) {
      return [null, `${what} could not be loaded: ${e.message}`];
    }
  }

  async function resolvePolicy(option) {
    if (option === undefined || option === null) return null; // the engine's bundled default policy
    if (typeof option === 'string' || option instanceof URL) {
      let text;
      try {
        text = new TextDecoder().decode(await platform.readBytes(option));
      } catch (e) {
        throw pricerError('invalid_policy', `the policy could not be loaded from ${option}: ${e.message}`, 'policy');
      }
      return text;
    }
    if (typeof option === 'object') return option;
    throw pricerError('invalid_policy', 'policy must be an object, JSON text from a URL, or omitted for the bundled default', 'policy');
  }

  async function createPricer(options = {}) {
    if (options.consent !== undefined && !CONSENTS.includes(options.consent)) {
      throw pricerError('invalid_argument', `consent must be one of ${CONSENTS.join(', ')}`, 'consent');
    }
    if (options.bundledModel !== undefined && !BUNDLED_MODELS.includes(options.bundledModel)) {
      throw pricerError('invalid_argument', `bundledModel must be one of ${BUNDLED_MODELS.join(', ')}`, 'bundledModel');
    }
    await ensureEngine(options.wasm);
    const policy = await resolvePolicy(options.policy);
    const interestSource = options.model === undefined ? platform.defaultModel(options.bundledModel ?? 'interest') : options.model;
    const upliftSource = options.upliftModel === undefined ? (options.bundledUpliftModel ? platform.defaultModel('uplift') : null) : options.upliftModel;
    const [model, modelError] = await resolveModel(interestSource, 'model');
    const [uplift, upliftError] = await resolveModel(upliftSource, 'upliftModel');
    return new Pricer({
      policy,
      model,
      uplift,
      options: {
        consent: options.consent ?? 'unknown',
        respectGlobalPrivacyControl: options.respectGlobalPrivacyControl ?? true,
        anonId: options.anonId,
        stabilityTtlMs: options.stabilityTtlMs,
        // 'memory' is a JS-side store, so the state survives an engine reset.
        storage: options.storage === 'memory' || (options.storage === undefined && !platform.hasLocalStorage())
          ? memoryStore()
          : options.storage,
        storageKey: options.storageKey,
        sessionStorage: memoryStore(),
        now: options.now,
        utcOffsetMinutes: options.utcOffsetMinutes,
        modelError: modelError ?? (model === null && interestSource !== null ? 'no model was given' : undefined),
        upliftModelError: upliftError ?? undefined,
      },
      platform,
    });
  }

  /** A list-price quote, synchronously, before (or without) the engine. */
  function listQuote(item, options = {}) {
    const policy = options.policy ? JSON.stringify(options.policy) : null;
    if (compiled) return engine.listQuote(item, policy, options.now);
    if (platform.listQuote) return platform.listQuote(item, policy, options.now);
    throw pricerError('engine_unavailable', 'listQuote needs the engine here: await createPricer() first');
  }

  async function verifyQuote(quote, item, policy, options = {}) {
    await ensureEngine(options.wasm);
    return engine.verifyQuote(quote, item, policy ?? null, options);
  }

  /** The fields a storefront posts to its server; never interest, explanation or propensity. */
  function toCheckout(quote) {
    if (compiled) return engine.toCheckout(quote);
    if (platform.toCheckout) return platform.toCheckout(quote);
    throw pricerError('engine_unavailable', 'toCheckout needs the engine here: await createPricer() first');
  }

  /** Adds measurement reports to a running tally (null starts one); see docs/measurement.md. */
  async function tallyReports(reports, tally = null, options = {}) {
    await ensureEngine(options.wasm);
    return engine.tallyReports(reports, tally, options.policy ?? null);
  }

  /** The de-biased read-out of a tally (conversion by arm / step / segment, A/B, β). */
  async function estimates(tally, options = {}) {
    await ensureEngine(options.wasm);
    return engine.estimates(tally, options.policy ?? null);
  }

  async function signQuote(quote, keyId, key, options = {}) {
    await ensureEngine(options.wasm);
    return engine.signQuote(quote, keyId, key);
  }

  async function init(options = {}) {
    await ensureEngine(options.wasm);
  }

  /** Synchronous start from an already compiled module (workerd imports the wasm as a module). */
  function initWithModule(module) {
    if (!compiled) initEngine(module);
  }

  return { createPricer, listQuote, verifyQuote, toCheckout, signQuote, tallyReports, estimates, init, initWithModule };
}

/** After an engine reset: list-price quotes (`engine_reset`), or the item's error slot. */
function resetSlots(inner, items) {
  return Array.from(items, (item) => {
    try {
      return inner.listQuoteWithReason(item, 'engine_reset');
    } catch (e) {
      return { itemId: typeof item?.id === 'string' ? item.id : null, error: { code: e.code, message: e.message, field: e.field ?? null } };
    }
  });
}

/** One shopper's pricer. Every call goes to the Rust engine; a trap re-creates the engine once. */
class Pricer {
  #args;
  #inner = null;
  #gen = 0;
  #unwatch = null;
  #freed = false;

  constructor(args) {
    this.#args = args;
    this.#engine();
    const { storage, storageKey } = args.options;
    if (storage === undefined || storage === 'local') {
      this.#unwatch = args.platform.watchStorage?.(storageKey ?? 'pricelet:behaviour', () => this.#call((p) => p.reloadState(), () => {}));
    }
  }

  #engine() {
    if (this.#freed) throw pricerError('freed', 'this pricer was freed; create a new one with createPricer()');
    if (this.#gen !== generation) {
      const { policy, model, uplift, options } = this.#args;
      // Objects of an earlier instance died with it; they are dropped, never freed into the new one.
      this.#inner = new engine.WasmPricer(policy, model, uplift, options);
      this.#gen = generation;
    }
    return this.#inner;
  }

  #call(fn, afterReset) {
    let inner;
    try {
      inner = this.#engine();
      return fn(inner);
    } catch (e) {
      if (!isTrap(e)) throw e;
      resetEngine();
      return afterReset(this.#engine(), e);
    }
  }

  priceFor(item) {
    return this.#call((p) => p.priceFor(item), (p) => p.listQuoteWithReason(item, 'engine_reset'));
  }

  pricesFor(items) {
    return this.#call((p) => p.pricesFor(items), (p) => resetSlots(p, items));
  }

  track(event) {
    return this.#call((p) => p.track(event), () => ({ stored: false, persisted: false, reason: 'engine_reset' }));
  }

  explain(itemId) {
    return this.#call((p) => p.explain(itemId), () => { throw pricerError('engine_reset', 'the engine restarted; price the item again before explaining it'); });
  }

  forget() {
    this.#call((p) => p.forget(), (p) => p.forget());
  }

  setConsent(consent) {
    if (!CONSENTS.includes(consent)) throw pricerError('invalid_argument', `consent must be one of ${CONSENTS.join(', ')}`, 'consent');
    this.#args.options = { ...this.#args.options, consent };
    this.#call((p) => p.setConsent(consent), (p) => p.setConsent(consent));
  }

  exportData() {
    return this.#call((p) => p.exportData(), (p) => p.exportData());
  }

  edgeRequest(items) {
    return this.#call((p) => p.edgeRequest(items), (p) => p.edgeRequest(items));
  }

  priceFromFeatures(request) {
    return this.#call((p) => p.priceFromFeatures(request), (p) => resetSlots(p, request?.items ?? []));
  }

  get status() {
    const s = this.#call((p) => p.status, (p) => p.status);
    return { ...s, engineResets };
  }

  get policy() {
    return this.#call((p) => p.policy, (p) => p.policy);
  }

  /** Releases the engine's memory for this pricer. Call it when the pricer is no longer needed. */
  free() {
    if (this.#freed) return;
    this.#unwatch?.();
    if (this.#gen === generation) this.#inner?.free();
    this.#inner = null;
    this.#freed = true;
  }

  /**
   * A local-DP measurement report for a quote that was shown: `{ report, reason?, message?, day,
   * epsilonSpentToday, epsilonLeftToday }`. Nothing is sent; the host decides where `report` goes.
   */
  report(quote, { converted = false } = {}) {
    if (typeof converted !== 'boolean') throw pricerError('invalid_argument', 'converted must be true or false', 'converted');
    return this.#call((p) => p.report(quote, converted), () => ({ report: null, reason: 'engine_reset', message: 'the engine was reset during this call; try again' }));
  }

  /** Test hook: executes a wasm `unreachable` inside the engine (a forced trap). */
  _forceTrap() {
    return this.#call(() => engine.__forceTrap(), () => 'engine_reset');
  }
}
