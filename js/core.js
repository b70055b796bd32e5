// The thin JS wrapper shared by every entry point (web, node, workerd). It loads files the caller
// names, keeps what an engine reset needs (the compiled module, the model bytes, the options, a
// page-session memory store), and forwards every call to the Rust engine. No pricing logic lives here.
//
// Each entry passes the engine glue it loads: the browser's has the device exports only; Node's and
// workerd's add the server-side ones (tallies, estimates, signing, edge pricing).
import { coded, pricerError, serverOnly } from './errors.js';
import { checkOptions, memoryStore, pricerInputs } from './options.js';
import { Pricer } from './pricer.js';
import { serverApi } from './server.js';
import { keyEntries, readLimits, wire, wirePolicy } from './wire.js';

export { WRAPPER_ERROR_CODES } from './errors.js';

let liteConstants = null; // the lite module's constants (before the engine), read once

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
    readLimits(() => runtime.constants.limits);
  }

  /** A wasm trap (panic, OOM, unreachable) kills the instance: wasm-bindgen's glue re-creates it
   * from the module it kept. */
  runtime.reset = () => {
    runtime.resets += 1;
    engine.__wbg_reset_state();
    runtime.generation += 1;
  };

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

  /** `options.wasm` of the async functions, read without trusting `options`. */
  function wasmOption(options, code) {
    try {
      return options?.wasm;
    } catch (e) {
      throw coded(e, code, 'the options');
    }
  }

  /**
   * The engine's function `name` on the JSON text `args()` makes once the engine is loaded, its
   * answer parsed: `server_only` where this entry's engine lacks it; an argument that cannot be
   * read (or `options.wasm`) is a `code` error about `what`.
   */
  async function callEngine(name, options, code, what, args) {
    if (typeof engine[name] !== 'function') throw serverOnly(name);
    await ensureEngine(wasmOption(options, code));
    try {
      return JSON.parse(engine[name](...args()));
    } catch (e) {
      throw coded(e, code, what);
    }
  }

  /** The module that answers `name` synchronously: the engine once loaded, else the lite one. */
  function syncEngine(name) {
    const source = runtime.compiled ? engine : platform.lite;
    if (!source) throw pricerError('engine_unavailable', `${name} needs the engine here: await createPricer() first`);
    readLimits(() => JSON.parse(source.limits()));
    return source;
  }

  async function createPricer(options = {}) {
    try {
      checkOptions(options);
      await ensureEngine(options.wasm);
      const { policy, models, config, storage, watchLocal, storageKey } = await pricerInputs(platform, options, runtime.constants);
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
        hooks: { storage, sessionStorage: memoryStore(), now: options.now },
        watchLocal,
        storageKey,
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
    const source = syncEngine('listQuote');
    try {
      return JSON.parse(source.listQuote(wire(item, 'invalid_item', 'the item'), wirePolicy(options?.policy), options?.now));
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
    const source = syncEngine('quoteBeforeReady');
    if (options === null || typeof options !== 'object') throw pricerError('invalid_argument', 'options must be an object { policy?, now?, storage?, storageKey?, stabilityTtlMs? }', 'options');
    let stored = null;
    try {
      const { storage, storageKey } = options;
      if (storage !== null && typeof storage === 'object') stored = storage.load();
      else if (storage === undefined || storage === 'local') stored = platform.readLocal?.(storageKey ?? (runtime.constants ?? (liteConstants ??= JSON.parse(source.constants()))).storageKey) ?? null;
    } catch {
      stored = null; // a storage that cannot be read holds no shown price: the list price is shown
    }
    try {
      return JSON.parse(source.quoteBeforeReady(wire(item, 'invalid_item', 'the item'), typeof stored === 'string' ? stored : null, wirePolicy(options.policy), options.now, options.stabilityTtlMs));
    } catch (e) {
      throw coded(e, 'invalid_argument', 'the arguments');
    }
  }

  /** The fields a storefront posts to its server; never interest, explanation or propensity. */
  function toCheckout(quote) {
    return JSON.parse(syncEngine('toCheckout').toCheckout(wire(quote, 'invalid_quote', 'the quote')));
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
      args = [wire(quote, 'invalid_quote', 'the quote'), wire(item, 'invalid_item', 'the item'), wirePolicy(policy), wire(opts, 'invalid_argument', 'the options')];
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
  function validatePolicy(policy, options = {}) {
    return callEngine('validatePolicy', options, 'invalid_policy', 'the policy', () => [wirePolicy(policy)]);
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

  const { signQuote, tallyReports, mergeTallies, estimates, proposePolicy, policyRules } = serverApi(callEngine);
  return { createPricer, listQuote, quoteBeforeReady, verifyQuote, validatePolicy, toCheckout, signQuote, tallyReports, mergeTallies, estimates, proposePolicy, policyRules, init, initWithModule, constants };
}
