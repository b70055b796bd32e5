// The Pricer that createPricer returns, and the item snapshots its quote cache compares.
import { coded, isTrap, pricerError, serverOnly } from './errors.js';
import { batch, errorSlot, replacer, wire } from './wire.js';

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
 * Quotes the engine keeps to serve again (its stability rule) are also kept here, so a repeated
 * `priceFor` costs what a JS object costs instead of a trip through the wasm boundary. With each
 * quote the engine hands over the clock values during which it serves that quote again
 * (`reservableWindows`, [from, until)); this wrapper keeps those two numbers and the item as it was
 * sent, and works out nothing itself. The copy is exact while the engine's `stableEpoch` stands
 * still: the engine moves it whenever it drops or replaces a kept quote (track, consent, forget, a
 * reload of the stored state, its cache filling up), and this wrapper reads it after every engine
 * call. Each hit returns a fresh object, so a caller's edits never reach the next one.
 */
export class Pricer {
  #args;
  #inner = null;
  #gen = 0;
  #unwatch = null;
  #freed = false;
  /** item id → { snap, quote, from, until }: quotes the engine holds in its stable cache now, and
   * when it serves them again (the map is emptied whenever the epoch moves). */
  #quotes = new Map();
  #epoch = -1;
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
      // (A clock value the engine would refuse is its to report.)
      const served = Number.isSafeInteger(now) && entry.from <= now && now < entry.until;
      return served ? { ...entry.quote } : null;
    } catch {
      return null; // a throwing getter or clock: the engine reports it
    }
  }

  /**
   * Keeps a quote the engine keeps, with the window `windows[at]`, `windows[at + 1]` it gave for it
   * (empty for a quote it does not keep), if the item reads as the `text` the engine priced (a
   * getter may answer differently twice).
   */
  #remember(item, text, quote, windows, at) {
    const from = windows?.[at];
    const until = windows?.[at + 1];
    if (!(from < until)) return;
    try {
      const snap = snapshot(item);
      if (snap === null || JSON.stringify(Object.fromEntries(snap.keys.map((k, i) => [k, snap.values[i]])), replacer) !== text) return;
      this.#quotes.set(snap.values[snap.keys.indexOf('id')], { snap, quote: { ...quote }, from, until });
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
    const { out, windows } = this.#call((p) => {
      const out = p.priceFor(text);
      this.#saveShownSoon(p);
      return { out, windows: p.reservableWindows };
    }, (p) => ({ out: p.listQuoteWithReason(text, 'engine_reset'), windows: null }));
    const quote = JSON.parse(out);
    this.#remember(item, text, quote, windows, 0);
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
    const { kept, windows } = this.#call((p) => {
      const kept = p.adoptQuote(itemText, quoteText);
      this.#saveShownSoon(p);
      return { kept, windows: p.reservableWindows };
    }, () => ({ kept: false, windows: null }));
    if (kept) this.#remember(item, itemText, JSON.parse(quoteText), windows, 0);
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
    const max = this.#args.runtime.constants.limits.maxInputChars;
    if (chars > max) {
      throw pricerError('limit_exceeded', `the items are ${chars} characters of JSON, over the limit of ${max}; split the request`, 'items');
    }
    const epoch = this.#epoch;
    const { out, windows } = this.#call((p) => {
      const slots = JSON.parse(p.pricesFor(`[${wired.join(',')}]`));
      this.#saveShownSoon(p);
      return { out: slots, windows: p.reservableWindows };
    }, (p) => ({ out: resetSlots(p, wired, list), windows: null }));
    // If the engine dropped or replaced quotes mid-batch, an earlier slot's item may no longer be
    // the one it keeps under that id.
    const keep = this.#epoch === epoch;
    return out.map((q, i) => {
      if (slots[i]) return slots[i];
      if (keep) this.#remember(list[i], wired[i], q, windows, 2 * i);
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
    if (typeof this.#args.runtime.engine.WasmPricer.prototype.priceFromFeatures !== 'function') throw serverOnly('priceFromFeatures');
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
