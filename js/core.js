// The thin JS wrapper shared by every entry point (web, node, workerd). It loads files the caller
// names, keeps what an engine reset needs (the compiled module, the model bytes, the options, a
// page-session memory store), and forwards every call to the Rust engine. No pricing logic lives here.
//
// Arguments reach the engine as JSON text made here (`wire`): a getter that throws, a revoked Proxy
// or a BigInt fails in JavaScript with a coded error, before the engine is entered, so a hostile or
// careless argument can never leave a pricer half-borrowed inside wasm. Results come back as JSON
// text and are parsed into fresh objects on every call.
//
// Each entry passes the engine glue it loads: the browser's has the device exports only; Node's and
// workerd's add the server-side ones (tallies, estimates, signing, edge pricing).

/** Models shipped in the package's models/ folder (see models/README.md). */
const BUNDLED_MODELS = ['interest', 'interest-behaviour'];
/** Codes of the wrapper's own errors, beside the engine's (`constants().errorCodes`). */
export const WRAPPER_ERROR_CODES = ['engine_unavailable', 'engine_reset', 'freed', 'server_only'];

let limits = null; // the engine's limits (JSON from Rust), read once
let liteConstants = null; // the lite module's constants (before the engine), read once

function isTrap(e) {
  return e instanceof WebAssembly.RuntimeError;
}

function pricerError(code, message, field = null) {
  return Object.assign(new Error(message), { code, field });
}

/** An exception that is not one of ours (a throwing getter, a revoked Proxy) as a coded error. */
function coded(e, code, what) {
  if (typeof e?.code === 'string' && e instanceof Error) return e;
  let why;
  try { why = e instanceof Error ? e.message : String(e); } catch { why = 'an unreadable value was thrown'; }
  return pricerError(code, `${what} could not be read (${why}); pass plain data`);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function replacer(key, value) {
  // NaN and ±Infinity would become null; sent as text, the engine refuses them naming the field.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') throw new TypeError(`${key ? `"${key}"` : 'the value'} is a BigInt, not a number`);
  // A lone surrogate would become U+FFFD somewhere and let two different ids collide.
  if (typeof value === 'string' && !(value.isWellFormed?.() ?? !LONE_SURROGATE.test(value))) {
    throw new TypeError(`${key ? `"${key}"` : 'a string'} is not well-formed Unicode (a lone surrogate); ids and names must be well-formed strings`);
  }
  return value;
}

/** `value` as JSON text for the engine, or a coded error. */
function wire(value, code, what, maxChars = limits?.maxInputChars ?? Infinity) {
  let text;
  try {
    text = JSON.stringify(value, replacer);
  } catch (e) {
    throw coded(e, code, what);
  }
  if (text === undefined) {
    if (value === undefined) return 'null';
    throw pricerError(code, `${what} is a ${typeof value}, not plain data`);
  }
  if (text.length > maxChars) {
    throw pricerError('limit_exceeded', `${what} is ${text.length} characters of JSON, over the limit of ${maxChars}; send less or split the request`);
  }
  return text;
}

/** An array argument, refused by its length before anything is copied. */
function batch(list, code, what) {
  if (!Array.isArray(list)) throw pricerError(code, `${what} takes an array`, 'items');
  const max = limits?.maxItemsPerBatch;
  if (max !== undefined && list.length > max) {
    throw pricerError('limit_exceeded', `${list.length} entries exceed the limit of ${max} (field \`items\`); send less or split the request`, 'items');
  }
  return list;
}

/** An item's id for its error slot, read without trusting the item. */
function idOf(item) {
  try {
    const id = item?.id;
    return typeof id === 'string' || Number.isSafeInteger(id) ? String(id) : null;
  } catch {
    return null;
  }
}

function errorSlot(item, e) {
  return { itemId: idOf(item), error: { code: e.code, message: e.message, field: e.field ?? null } };
}

/** A `{ load, save }` store in JS memory: the page-session store for consent 'unknown'. */
function memoryStore() {
  let state = null;
  return { load: () => state, save: (s) => { state = s; } };
}

/** Bytes as a plain Uint8Array view (never a subclass with getters of its own), or null. */
function asBytes(v) {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

/** `keys` of verifyQuote as [id, secret] pairs: a plain object or a Map, nothing else. */
function keyEntries(keys) {
  if (keys instanceof Map) return Array.from(keys.entries());
  const proto = keys !== null && typeof keys === 'object' ? Object.getPrototypeOf(keys) : undefined;
  if (proto === Object.prototype || proto === null) return Object.entries(keys);
  throw pricerError('invalid_argument', 'keys must be a plain object { keyId: secret } or a Map of key ids to secrets', 'keys');
}

/**
 * The API of one platform. `platform` = { loadModule(source) -> Promise<WebAssembly.Module> | Module,
 * readBytes(urlOrPath) -> Promise<Uint8Array>, defaultModel(name) -> URL | string | null, hasLocalStorage(),
 * watchStorage(key, onChange) -> unwatch, lite?, yieldToPage? } — `lite` (listQuote, toCheckout,
 * limits) from the small wasm, where the engine cannot be ready synchronously; `yieldToPage` (a
 * browser's) gives the main thread back between the steps of engine start.
 */
export function makeApi(platform) {
  const { engine } = platform;
  /** The engine instance: its compiled module (kept for resets) and a generation that moves on
   * every (re)instantiation, so pricers rebuild their engine objects. */
  const runtime = { engine, compiled: null, generation: 0, resets: 0, constants: null };
  let loading = null;

  function initEngine(module) {
    engine.initSync({ module });
    runtime.compiled = module;
    runtime.generation += 1;
  }

  /** The engine's constants (consents, codes, limits), read once it is instantiated. */
  function readConstants() {
    runtime.constants ??= JSON.parse(engine.constants());
    limits ??= runtime.constants.limits;
  }

  /** A wasm trap (panic, OOM, unreachable) kills the instance: wasm-bindgen's glue re-creates it
   * from the module it kept. */
  runtime.reset = () => {
    runtime.resets += 1;
    engine.__wbg_reset_state();
    runtime.generation += 1;
  };

  /** A server-side function where the entry's engine lacks it (a browser's). */
  function serverOnly(name) {
    if (typeof engine[name] === 'function') return null;
    return pricerError('server_only', `${name} runs on a server: import it from 'pricelet' in Node or a Worker (the browser engine ships device code only)`);
  }

  async function ensureEngine(wasm) {
    if (runtime.compiled) return;
    loading ??= (async () => {
      try {
        const module = await platform.loadModule(wasm);
        if (!runtime.compiled) initEngine(module);
        await platform.yieldToPage?.();
        readConstants();
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
      if (integrity !== null) engine.checkIntegrity(bytes, integrity, what);
      return [bytes, null];
    } catch (e) {
      return [null, `${what} could not be loaded: ${e?.message ?? String(e)}`];
    }
  }

  async function resolvePolicy(option) {
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

  async function createPricer(options = {}) {
    try {
      if (options === null || typeof options !== 'object') throw pricerError('invalid_argument', 'createPricer takes an options object (or nothing)', 'options');
      if (options.bundledModel !== undefined && !BUNDLED_MODELS.includes(options.bundledModel)) {
        throw pricerError('invalid_argument', `bundledModel must be one of ${BUNDLED_MODELS.join(', ')}`, 'bundledModel');
      }
      await ensureEngine(options.wasm);
      const { consents, storageKey } = runtime.constants;
      if (options.consent !== undefined && !consents.includes(options.consent)) {
        throw pricerError('invalid_argument', `consent must be one of ${consents.join(', ')}`, 'consent');
      }
      const policy = wire(await resolvePolicy(options.policy), 'invalid_policy', 'the policy');
      const interestSource = options.model === undefined ? platform.defaultModel(options.bundledModel ?? 'interest') : options.model;
      const upliftSource = options.upliftModel === undefined ? (options.bundledUpliftModel ? platform.defaultModel('uplift') : null) : options.upliftModel;
      const [model, modelError] = await resolveModel(interestSource, 'model');
      const [uplift, upliftError] = await resolveModel(upliftSource, 'upliftModel');
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
      // The models load in steps; a page gets the main thread back between them.
      const loads = {};
      for (const [kind, [bytes, error]] of Object.entries(models)) {
        loads[kind] = new engine.ModelLoad(bytes, kind, error);
        while (!loads[kind].step()) await platform.yieldToPage?.();
      }
      await platform.yieldToPage?.();
      const pricer = new Pricer({
        policy,
        models,
        loads,
        loadsGeneration: runtime.generation,
        config,
        hooks: { storage: adapter, sessionStorage: memoryStore(), now: options.now },
        watchLocal: !adapter && (options.storage === undefined || options.storage === 'local'),
        storageKey: options.storageKey ?? storageKey,
        platform,
        runtime,
      });
      // The caller's first prices run in a task of their own.
      await platform.yieldToPage?.();
      return pricer;
    } catch (e) {
      throw coded(e, 'invalid_argument', 'the options');
    }
  }

  /** A list-price quote, synchronously, before (or without) the engine. */
  function listQuote(item, options = {}) {
    const source = runtime.compiled ? engine : platform.lite;
    if (!source) throw pricerError('engine_unavailable', 'listQuote needs the engine here: await createPricer() first');
    const max = (limits ??= JSON.parse(source.limits())).maxInputChars;
    try {
      return JSON.parse(source.listQuote(wire(item, 'invalid_item', 'the item', max), wire(options?.policy ?? null, 'invalid_policy', 'the policy', max), options?.now));
    } catch (e) {
      throw coded(e, 'invalid_argument', 'the arguments');
    }
  }

  /**
   * The quote to show for `item` before a pricer is ready, synchronously: the one this shopper was
   * already shown on another page of the shop (stored with consent, within the stability window,
   * still valid for the item and policy), else the list quote. Show it, then hand it to
   * `pricer.adoptQuote(item, quote)` once the pricer is ready: the price on screen stays.
   */
  function quoteBeforeReady(item, options = {}) {
    const source = runtime.compiled ? engine : platform.lite;
    if (!source) throw pricerError('engine_unavailable', 'quoteBeforeReady needs the engine here: await createPricer() first');
    if (options === null || typeof options !== 'object') throw pricerError('invalid_argument', 'options must be an object { policy?, now?, storage?, storageKey?, stabilityTtlMs? }', 'options');
    const max = (limits ??= JSON.parse(source.limits())).maxInputChars;
    let stored = null;
    try {
      const { storage, storageKey } = options;
      if (storage !== null && typeof storage === 'object') stored = storage.load();
      else if (storage === undefined || storage === 'local') stored = platform.readLocal?.(storageKey ?? (runtime.constants ?? (liteConstants ??= JSON.parse(source.constants()))).storageKey) ?? null;
    } catch {
      stored = null; // a storage that cannot be read holds no shown price: the list price is shown
    }
    try {
      return JSON.parse(source.quoteBeforeReady(wire(item, 'invalid_item', 'the item', max), typeof stored === 'string' ? stored : null, wire(options.policy ?? null, 'invalid_policy', 'the policy', max), options.now, options.stabilityTtlMs));
    } catch (e) {
      throw coded(e, 'invalid_argument', 'the arguments');
    }
  }

  /** `options.wasm` of the server-side functions, read without trusting `options`. */
  function wasmOption(options, code) {
    try {
      return options?.wasm;
    } catch (e) {
      throw coded(e, code, 'the options');
    }
  }

  async function verifyQuote(quote, item, policy, options = {}) {
    let args;
    let wasm;
    try {
      wasm = options?.wasm;
      if (options === null || typeof options !== 'object') throw pricerError('invalid_argument', 'options must be an object { now?, quantity?, keys? }', 'options');
      const opts = {};
      if (options.now !== undefined) opts.now = options.now;
      // A quantity that is present must be a positive whole number; the engine says so as a problem.
      if (options.quantity !== undefined) opts.quantity = options.quantity;
      if (options.keys !== undefined) opts.keys = keyEntries(options.keys);
      args = [wire(quote, 'invalid_quote', 'the quote'), wire(item, 'invalid_item', 'the item'), wire(policy ?? null, 'invalid_policy', 'the policy'), wire(opts, 'invalid_argument', 'the options')];
    } catch (e) {
      throw coded(e, 'invalid_argument', 'the arguments');
    }
    await ensureEngine(wasm);
    return JSON.parse(engine.verifyQuote(...args));
  }

  /**
   * The policy as every pricer reads it: validated, with every default spelled out (null or
   * undefined: the bundled default). Rejects with `invalid_policy` naming the field. Cheaper than a
   * pricer built to check a policy, and the same rules.
   */
  async function validatePolicy(policy, options = {}) {
    await ensureEngine(wasmOption(options, 'invalid_policy'));
    try {
      return JSON.parse(engine.validatePolicy(wire(policy ?? null, 'invalid_policy', 'the policy')));
    } catch (e) {
      throw coded(e, 'invalid_policy', 'the policy');
    }
  }

  /** The fields a storefront posts to its server; never interest, explanation or propensity. */
  function toCheckout(quote) {
    const source = runtime.compiled ? engine : platform.lite;
    if (!source) throw pricerError('engine_unavailable', 'toCheckout needs the engine here: await createPricer() first');
    limits ??= JSON.parse(source.limits());
    return JSON.parse(source.toCheckout(wire(quote, 'invalid_quote', 'the quote')));
  }

  /** Adds measurement reports to a running tally (null starts one); see docs/measurement.md. */
  async function tallyReports(reports, tally = null, options = {}) {
    const unavailable = serverOnly('tallyReports');
    if (unavailable) throw unavailable;
    await ensureEngine(wasmOption(options, 'invalid_report'));
    try {
      batch(reports, 'invalid_report', 'tallyReports');
      return JSON.parse(engine.tallyReports(wire(reports, 'invalid_report', 'the reports'), wire(tally, 'invalid_report', 'the tally'), wire(options?.policy ?? null, 'invalid_policy', 'the policy')));
    } catch (e) {
      throw coded(e, 'invalid_report', 'the reports');
    }
  }

  /** The de-biased read-out of a tally (conversion by arm / step / segment, A/B, β). */
  async function estimates(tally, options = {}) {
    const unavailable = serverOnly('estimates');
    if (unavailable) throw unavailable;
    await ensureEngine(wasmOption(options, 'invalid_report'));
    try {
      return JSON.parse(engine.estimates(wire(tally, 'invalid_report', 'the tally'), wire(options?.policy ?? null, 'invalid_policy', 'the policy')));
    } catch (e) {
      throw coded(e, 'invalid_report', 'the tally');
    }
  }

  /** Merges the tallies of a collector's shards into one (sums merge exactly). */
  async function mergeTallies(tallies, options = {}) {
    const unavailable = serverOnly('mergeTallies');
    if (unavailable) throw unavailable;
    await ensureEngine(wasmOption(options, 'invalid_report'));
    try {
      return JSON.parse(engine.mergeTallies(wire(tallies, 'invalid_report', 'the tallies'), wire(options?.policy ?? null, 'invalid_policy', 'the policy')));
    } catch (e) {
      throw coded(e, 'invalid_report', 'the tallies');
    }
  }

  /**
   * The learning loop's proposer: keep `policy`, or the next version, from the tallies of its
   * reports, one per collection round (docs/measurement.md §7). `options`: { baseVersion,
   * sequence, now? } — the next version is named `<baseVersion>+loop.<sequence>`.
   */
  async function proposePolicy(policy, rounds, options = {}) {
    const unavailable = serverOnly('proposePolicy');
    if (unavailable) throw unavailable;
    await ensureEngine(wasmOption(options, 'invalid_policy'));
    if (policy === null || policy === undefined) throw pricerError('invalid_policy', 'proposePolicy needs the current policy (the one the reports were made under)');
    try {
      if (options === null || typeof options !== 'object') throw pricerError('invalid_argument', 'options must be { baseVersion, sequence, now? }', 'options');
      const turn = { now: options.now ?? Date.now(), baseVersion: options.baseVersion, sequence: options.sequence };
      return JSON.parse(engine.proposePolicy(wire(policy, 'invalid_policy', 'the policy'), wire(rounds, 'invalid_report', 'the rounds'), wire(turn, 'invalid_argument', 'the options')));
    } catch (e) {
      throw coded(e, 'invalid_policy', 'the policy or tallies');
    }
  }

  /**
   * What a collector applies to `policy`, from the engine that owns the rules: `{
   * reportsPerDevicePerDay, graceWhenReplacedMs }` (the first null without `reporting`).
   */
  async function policyRules(policy, options = {}) {
    const unavailable = serverOnly('policyRules');
    if (unavailable) throw unavailable;
    await ensureEngine(wasmOption(options, 'invalid_policy'));
    try {
      return JSON.parse(engine.policyRules(wire(policy ?? null, 'invalid_policy', 'the policy')));
    } catch (e) {
      throw coded(e, 'invalid_policy', 'the policy');
    }
  }

  async function signQuote(quote, keyId, key, options = {}) {
    const unavailable = serverOnly('signQuote');
    if (unavailable) throw unavailable;
    await ensureEngine(wasmOption(options, 'invalid_argument'));
    try {
      return JSON.parse(engine.signQuote(wire(quote, 'invalid_quote', 'the quote'), keyId, key));
    } catch (e) {
      throw coded(e, 'invalid_argument', 'the arguments');
    }
  }

  async function init(options = {}) {
    await ensureEngine(wasmOption(options, 'invalid_argument'));
  }

  /** Synchronous start from an already compiled module (workerd imports the wasm as a module). */
  function initWithModule(module) {
    if (!runtime.compiled) initEngine(module);
    readConstants();
  }

  /** The engine's constants (consents, reasons, codes, limits): for tests and tools. */
  function constants() {
    if (!runtime.constants) throw pricerError('engine_unavailable', 'constants() needs the engine: await init() first');
    return structuredClone(runtime.constants);
  }

  return { createPricer, listQuote, quoteBeforeReady, verifyQuote, validatePolicy, toCheckout, signQuote, tallyReports, mergeTallies, estimates, proposePolicy, policyRules, init, initWithModule, constants };
}

/** A method of the engine's pricer class, if this engine has it. */
function engineMethod(runtime, name) {
  return runtime.engine.WasmPricer.prototype[name];
}

/** After an engine reset: list-price quotes (`engine_reset`), or the item's error slot. */
function resetSlots(inner, wired, items) {
  return wired.map((text, i) => {
    try {
      return JSON.parse(inner.listQuoteWithReason(text, 'engine_reset'));
    } catch (e) {
      return errorSlot(items[i], e);
    }
  });
}

const isPlain = (v) => v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
/** An object literal (a class instance may define toJSON, so it is never cached). */
const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && [Object.prototype, null].includes(Object.getPrototypeOf(v));
const isPlainArray = (v) => Array.isArray(v) && Object.getPrototypeOf(v) === Array.prototype;

/**
 * What JSON.stringify would read from a plain item: its own keys in order and their values (plain
 * values or plain arrays of them, copied), or null if the item is anything else (never cached).
 */
function snapshot(item) {
  if (!isPlainObject(item)) return null;
  const keys = Object.keys(item);
  const values = new Array(keys.length);
  for (let i = 0; i < keys.length; i += 1) {
    const v = item[keys[i]];
    if (isPlain(v)) {
      values[i] = v;
    } else if (isPlainArray(v)) {
      const copy = new Array(v.length);
      for (let j = 0; j < v.length; j += 1) {
        if (!isPlain(v[j])) return null;
        copy[j] = v[j];
      }
      values[i] = copy;
    } else {
      return null;
    }
  }
  return { keys, values };
}

/** True if `item` reads exactly as `snap` (so it would be sent as the same JSON text). */
function sameItem(snap, item) {
  if (!isPlainObject(item)) return false;
  const keys = Object.keys(item);
  const { keys: was, values } = snap;
  if (keys.length !== was.length) return false;
  for (let i = 0; i < keys.length; i += 1) {
    if (keys[i] !== was[i]) return false;
    const v = item[keys[i]];
    const w = values[i];
    if (Array.isArray(w)) {
      if (!isPlainArray(v) || v.length !== w.length) return false;
      for (let j = 0; j < w.length; j += 1) if (v[j] !== w[j]) return false;
    } else if (v !== w) {
      return false;
    }
  }
  return true;
}

/**
 * One shopper's pricer. Every call goes to the Rust engine; a trap re-creates the engine once.
 *
 * Quotes the engine would re-serve under its stability rule (same item, within `stabilityTtlMs`,
 * not expired) are also kept here, so a repeated `priceFor` costs what a JS object costs instead of
 * a trip through the wasm boundary. The copy is exact while the engine's `stableEpoch` stands
 * still: the engine moves it whenever it drops or replaces a re-servable quote (track, consent,
 * forget, a reload of the stored state, its cache filling up), and this wrapper reads it after
 * every engine call. Each hit returns a fresh object, so a caller's edits never reach the next one.
 */
class Pricer {
  #args;
  #inner = null;
  #gen = 0;
  #unwatch = null;
  #freed = false;
  /** item id → { snap, quote }: quotes the engine holds in its stable cache now (the map is
   * emptied whenever the epoch moves). */
  #quotes = new Map();
  #epoch = -1;
  #ttl = 0;
  #now = Date.now;
  /** A save of the shown quotes is queued (one per batch of prices, after the caller's render). */
  #saveQueued = false;

  constructor(args) {
    this.#args = args;
    this.#engine();
    if (args.watchLocal) {
      this.#unwatch = args.platform.watchStorage?.(args.storageKey, () => this.#call((p) => p.reloadState(), () => {}));
    }
  }

  #engine() {
    if (this.#freed) throw pricerError('freed', 'this pricer was freed; create a new one with createPricer()');
    const { runtime } = this.#args;
    if (this.#gen !== runtime.generation) {
      const { policy, models, config, hooks } = this.#args;
      // The models loaded in steps by createPricer serve the first engine object; after an engine
      // reset they are loaded again from their bytes, in one go. Objects of an earlier instance
      // died with it; they are dropped, never freed into the new one.
      const fresh = this.#args.loads && this.#args.loadsGeneration === runtime.generation;
      const loads = fresh ? this.#args.loads : Object.fromEntries(Object.entries(models).map(([kind, [bytes, error]]) => [kind, new runtime.engine.ModelLoad(bytes, kind, error)]));
      this.#args.loads = null;
      this.#inner = new runtime.engine.WasmPricer(policy, loads.interest, loads.uplift, config, hooks);
      this.#gen = runtime.generation;
      this.#quotes.clear();
      this.#ttl = this.#inner.stabilityTtlMs;
      this.#epoch = this.#inner.stableEpoch;
      this.#now = typeof hooks.now === 'function' ? hooks.now : Date.now;
    }
    return this.#inner;
  }

  /** Runs `fn` on the engine; a trap resets the engine and answers with `afterReset`. */
  #call(fn, afterReset) {
    let p = this.#engine();
    try {
      return fn(p);
    } catch (e) {
      if (!isTrap(e)) throw e;
      this.#args.runtime.reset();
      p = this.#engine();
      return afterReset(p, e);
    } finally {
      // Only an instance of the current engine can be read; after a failed reset #cachedQuote misses.
      if (this.#gen === this.#args.runtime.generation) {
        const epoch = p.stableEpoch;
        if (epoch !== this.#epoch) this.#quotes.clear(); // every entry is stale
        this.#epoch = epoch;
      }
    }
  }

  /** A copy of the quote the engine would re-serve for `item` now, or null (ask the engine). */
  #cachedQuote(item) {
    if (this.#freed || this.#gen !== this.#args.runtime.generation) return null;
    try {
      const entry = this.#quotes.get(item?.id);
      if (entry === undefined || !sameItem(entry.snap, item)) return null;
      const now = this.#now.call(null); // the clock the engine reads, called the same way
      const q = entry.quote;
      const fresh = Number.isSafeInteger(now) && now >= q.issuedAt && now < q.issuedAt + this.#ttl && now <= q.expiresAt;
      return fresh ? { ...q } : null;
    } catch {
      return null; // a throwing getter or clock: the engine reports it
    }
  }

  /**
   * Keeps a quote the engine just put in its stable cache (it does for every quote when the TTL is
   * on), if the item reads as the `text` the engine priced (a getter may answer differently twice).
   */
  #remember(item, text, quote) {
    if (this.#ttl <= 0 || typeof quote?.quoteId !== 'string' || quote.reason === 'engine_reset') return;
    try {
      const snap = snapshot(item);
      if (snap === null || JSON.stringify(Object.fromEntries(snap.keys.map((k, i) => [k, snap.values[i]])), replacer) !== text) return;
      this.#quotes.set(snap.values[snap.keys.indexOf('id')], { snap, quote: { ...quote } });
    } catch {
      // not cached: the next call asks the engine
    }
  }

  /**
   * New quotes go into storage so other pages of the shop show the same price: once per batch, in
   * a microtask after the caller's synchronous work (a page renders its prices, then one write).
   */
  #saveShownSoon(p) {
    if (this.#saveQueued || !p.unsavedQuotes) return;
    this.#saveQueued = true;
    queueMicrotask(() => {
      this.#saveQueued = false;
      if (!this.#freed) this.#call((q) => q.saveQuotes(), () => {});
    });
  }

  priceFor(item) {
    const hit = this.#cachedQuote(item);
    if (hit !== null) return hit;
    const text = wire(item, 'invalid_item', 'the item');
    const quote = JSON.parse(this.#call((p) => {
      const out = p.priceFor(text);
      this.#saveShownSoon(p);
      return out;
    }, (p) => p.listQuoteWithReason(text, 'engine_reset')));
    this.#remember(item, text, quote);
    return quote;
  }

  /**
   * Keeps `quote` — shown for `item` before this pricer was ready, e.g. `listQuote(item)` while the
   * engine loaded — as the item's price for the stability window, so a price on screen never
   * changes in front of the shopper. Returns true if `priceFor(item)` now answers `quote` (it must
   * still pass verifyQuote for the item); false if the item keeps another price or is priced anew.
   */
  adoptQuote(item, quote) {
    let itemText;
    let quoteText;
    try {
      itemText = wire(item, 'invalid_item', 'the item');
      quoteText = wire(quote, 'invalid_quote', 'the quote');
    } catch (e) {
      throw coded(e, 'invalid_argument', 'the arguments');
    }
    const kept = this.#call((p) => {
      const out = p.adoptQuote(itemText, quoteText);
      this.#saveShownSoon(p);
      return out;
    }, () => false);
    if (kept) this.#remember(item, itemText, JSON.parse(quoteText));
    return kept;
  }

  pricesFor(items) {
    let list;
    try {
      list = batch(items, 'invalid_item', 'pricesFor');
    } catch (e) {
      throw coded(e, 'invalid_item', 'the items');
    }
    // Each item is serialized on its own: one that cannot be read gets its error slot, the others price.
    const slots = new Array(list.length).fill(null);
    const wired = [];
    let chars = 0;
    for (let i = 0; i < list.length; i += 1) {
      let item;
      try {
        item = list[i];
        wired.push(wire(item, 'invalid_item', `items[${i}]`));
      } catch (e) {
        slots[i] = errorSlot(item, coded(e, 'invalid_item', `items[${i}]`));
        wired.push('null');
      }
      chars += wired[i].length;
    }
    if (chars > limits.maxInputChars) {
      throw pricerError('limit_exceeded', `the items are ${chars} characters of JSON, over the limit of ${limits.maxInputChars}; split the request`, 'items');
    }
    const epoch = this.#epoch;
    const out = this.#call((p) => {
      const slots = JSON.parse(p.pricesFor(`[${wired.join(',')}]`));
      this.#saveShownSoon(p);
      return slots;
    }, (p) => resetSlots(p, wired, list));
    // If the engine dropped or replaced quotes mid-batch, some of these are no longer in its cache.
    const keep = this.#epoch === epoch;
    return out.map((q, i) => {
      if (slots[i]) return slots[i];
      if (keep) this.#remember(list[i], wired[i], q);
      return q;
    });
  }

  track(event) {
    const text = wire(event, 'invalid_event', 'the event');
    return this.#call((p) => JSON.parse(p.track(text)), () => ({ stored: false, persisted: false, reason: 'engine_reset' }));
  }

  explain(itemId) {
    return JSON.parse(this.#call((p) => p.explain(itemId), () => { throw pricerError('engine_reset', 'the engine restarted; price the item again before explaining it'); }));
  }

  forget() {
    this.#call((p) => p.forget(), (p) => p.forget());
  }

  setConsent(consent) {
    const { consents } = this.#args.runtime.constants;
    if (!consents.includes(consent)) throw pricerError('invalid_argument', `consent must be one of ${consents.join(', ')}`, 'consent');
    this.#args.config = JSON.stringify({ ...JSON.parse(this.#args.config), consent });
    this.#call((p) => p.setConsent(consent), (p) => p.setConsent(consent));
  }

  exportData() {
    return JSON.parse(this.#call((p) => p.exportData(), (p) => p.exportData()));
  }

  edgeRequest(items) {
    let text;
    try {
      text = wire(batch(items, 'invalid_item', 'edgeRequest'), 'invalid_item', 'the items');
    } catch (e) {
      throw coded(e, 'invalid_item', 'the items');
    }
    return JSON.parse(this.#call((p) => p.edgeRequest(text), (p) => p.edgeRequest(text)));
  }

  /**
   * Prices an edge request — the object `edgeRequest(items)` made, or its JSON text as a request
   * body holds it (the engine reads the text directly). `sign: { keyId, key }` also signs every
   * quote (as signQuote does) in the same pass; `json: true` returns the quotes as JSON text, to
   * write straight into a response.
   */
  priceFromFeatures(request, options = {}) {
    if (typeof engineMethod(this.#args.runtime, 'priceFromFeatures') !== 'function') {
      throw pricerError('server_only', "priceFromFeatures runs on a server: import 'pricelet' in Node or a Worker (the browser engine ships device code only)");
    }
    let text;
    try {
      if (typeof request === 'string') {
        const max = this.#args.runtime.constants.limits.maxInputChars;
        if (request.length > max) throw pricerError('limit_exceeded', `the request is ${request.length} characters; the limit is ${max}`, 'request');
        text = request;
      } else {
        if (Array.isArray(request?.items)) batch(request.items, 'invalid_argument', 'priceFromFeatures');
        text = wire(request, 'invalid_argument', 'the request');
      }
    } catch (e) {
      throw coded(e, 'invalid_argument', 'the request');
    }
    let keyId;
    let key;
    let asText;
    try {
      asText = options?.json === true;
      const sign = options?.sign;
      if (sign !== undefined) {
        if (sign === null || typeof sign !== 'object') throw pricerError('invalid_argument', 'sign must be { keyId, key }', 'sign');
        ({ keyId, key } = sign);
        if (typeof keyId !== 'string' || typeof key !== 'string') throw pricerError('invalid_argument', 'sign must be { keyId, key } with two strings (key: at least 16 bytes)', 'sign');
      }
    } catch (e) {
      throw coded(e, 'invalid_argument', 'the options');
    }
    const afterReset = (p) => {
      // Rare (the engine trapped): the items are read back from the request for their list quotes.
      let items;
      try { items = JSON.parse(text).items; } catch { items = null; }
      const slots = Array.isArray(items) ? resetSlots(p, items.map((i) => wire(i, 'invalid_item', 'an item')), items) : [];
      return asText ? JSON.stringify(slots) : slots;
    };
    return this.#call((p) => {
      const quotes = p.priceFromFeatures(text, keyId, key);
      return asText ? quotes : JSON.parse(quotes);
    }, afterReset);
  }

  get status() {
    const s = JSON.parse(this.#call((p) => p.status, (p) => p.status));
    return { ...s, engineResets: this.#args.runtime.resets };
  }

  get policy() {
    return JSON.parse(this.#call((p) => p.policy, (p) => p.policy));
  }

  /** Releases the engine's memory for this pricer. Call it when the pricer is no longer needed. */
  free() {
    if (this.#freed) return;
    this.#unwatch?.();
    if (this.#gen === this.#args.runtime.generation) this.#inner?.free();
    this.#inner = null;
    this.#freed = true;
  }

  /**
   * A local-DP measurement report for a quote that was shown: `{ report, reason?, message?, day,
   * epsilonSpentToday, epsilonLeftToday }`. Nothing is sent; the host decides where `report` goes.
   */
  report(quote, options = {}) {
    let text;
    let converted;
    try {
      converted = options?.converted ?? false;
      text = wire(quote, 'invalid_quote', 'the quote');
    } catch (e) {
      throw coded(e, 'invalid_argument', 'the arguments');
    }
    return this.#call((p) => JSON.parse(p.report(text, converted)), () => ({ report: null, reason: 'engine_reset', message: 'the engine was reset during this call; try again' }));
  }

  /** Test hook: executes a wasm `unreachable` inside the engine (a forced trap). */
  _forceTrap() {
    return this.#call(() => this.#args.runtime.engine.__forceTrap(), () => 'engine_reset');
  }
}
