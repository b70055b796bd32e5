// The reference pricelet competes against: the same model through onnxruntime-web (wasm backend, one
// thread) with the same pricing arithmetic written in JavaScript and the same caching (interest per
// feature vector, quotes per item within the stability TTL). Benchmark-only code: it exists to be
// measured against, and the bench checks that it quotes the same prices as pricelet.
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capPpm, ppm, priceNear } from './js-worker/endings.js';
import { forestOf } from './js-worker/forest.js';

const DAY = 86_400_000;
const GAP = 30 * 60 * 1000;
const EXPONENTS = { EUR: 2, USD: 2, GBP: 2, JPY: 0, KWD: 3 };

function uniform(parts) {
  const h = createHash('sha256');
  for (const p of parts) {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(p)));
    h.update(len);
    h.update(p);
  }
  return Number(h.digest().readBigUInt64LE(0) >> 11n) / 2 ** 53;
}

function parseMinor(v, exp) {
  const s = typeof v === 'number' ? String(v) : v;
  if (!/^\d*\.?\d*$/.test(s)) throw new Error(`bad amount ${v}`);
  const [i, f = ''] = s.split('.');
  const frac = f.replace(/0+$/, '');
  if (frac.length > exp) throw new Error(`too many decimals ${v}`);
  return Number(i || '0') * 10 ** exp + Number((frac + '0'.repeat(exp)).slice(0, exp) || '0');
}

const ppmOfPercent = ppm;

function civil(days) {
  const d = new Date(days * DAY);
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), (d.getUTCDay() + 6) % 7];
}

function specialDay(now, offsetMin) {
  const days = Math.floor((now + offsetMin * 60000) / DAY);
  const [y] = civil(days);
  const dayOf = (m, d) => Math.floor(Date.UTC(y, m - 1, d) / DAY);
  const may1 = dayOf(5, 1);
  const mothers = may1 + (6 - ((may1 + 3) % 7 + 7) % 7) + 7;
  const c = Math.max(...[dayOf(2, 14), mothers].map((s) => Math.max(0, 5 - Math.abs(days - (s - 6)))));
  return c / 5;
}

export class ReferencePricer {
  constructor({ ort, session, forest, policy, spec, features, anonId, stabilityTtlMs, now, utcOffsetMinutes = 0, keepsId = false }) {
    Object.assign(this, { ort, session, forest, policy, anonId, stabilityTtlMs, now, utcOffsetMinutes });
    this.specs = features.map((n) => spec.features.find((f) => f.name === n));
    this.events = [];
    this.stored = null;
    this.scoreCache = new Map();
    this.quotes = new Map();
    this.endings = Object.fromEntries(Object.entries(policy.priceEndings).map(([c, list]) => [c, list.map((e) => {
      if (e === 'any') return [1, 0];
      if (e.startsWith('step:')) return [Number(e.slice(5)), 0];
      const exp = EXPONENTS[c] ?? 2;
      if (e === 'whole') return [10 ** exp, 0];
      return [10 ** exp, Number(e.slice(1))];
    })]));
    // An experiment arm needs an id that is kept (pricelet draws none otherwise: every page would
    // draw again). The bench's shopper has consent 'unknown', so nothing is kept: no control, no
    // exploration. `keepsId: true` gives the arms of a shopper with consent.
    this.arms = keepsId;
    const c = ppmOfPercent(policy.experiment.controlPercent) / 1e6;
    this.control = keepsId && uniform(['pricelet/variant', anonId]) < c;
  }

  static async create({ modelBytes, ...rest }) {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    const session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    return new ReferencePricer({ ort, session, ...rest });
  }

  /** Keeps the log in time order (the bench's shopper has consent 'unknown': nothing is stored). */
  track(event) {
    const ev = { ...event, at: event.at ?? this.now() };
    let i = this.events.length;
    while (i > 0 && this.events[i - 1].at > ev.at) i -= 1;
    this.events.splice(i, 0, ev);
    return { stored: true };
  }

  summary(now) {
    const ev = this.events;
    let start = ev.length;
    if (ev.length && now - ev[ev.length - 1].at < GAP) {
      start = ev.length - 1;
      while (start > 0 && ev[start].at - ev[start - 1].at < GAP) start -= 1;
    }
    const session = ev.slice(start);
    const views = session.filter((e) => e.type === 'page_view');
    const s = { admin_pages: 0, admin_seconds: 0, info_pages: 0, info_seconds: 0, product_pages: 0, product_seconds: 0 };
    const short = { administrative: 'admin', informational: 'info', product: 'product' };
    const mean = (k) => { const v = views.map((e) => e.page[k]).filter((x) => x !== undefined); return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0; };
    views.forEach((e, i) => {
      const secs = e.dwellMs !== undefined ? e.dwellMs / 1000 : i + 1 < views.length ? (views[i + 1].at - e.at) / 1000 : 0;
      s[`${short[e.page.kind]}_pages`] += 1;
      s[`${short[e.page.kind]}_seconds`] += secs;
    });
    s.bounce_rate_avg = mean('bounceRate');
    s.exit_rate_avg = mean('exitRate');
    s.page_value_avg = mean('pageValue');
    const days = Math.floor((now + this.utcOffsetMinutes * 60000) / DAY);
    const [, month, , weekday] = civil(days);
    s.month = month;
    s.weekend = weekday >= 5 ? 1 : 0;
    s.special_day = specialDay(now, this.utcOffsetMinutes);
    const sessionStart = session.length ? session[0].at : now;
    s.returning_visitor = ev.some((e) => e.type === 'page_view' && e.at < sessionStart) ? 1 : 0;
    return s;
  }

  /** The model input for the session so far, as float32, and its cache key; computed once per
   * (log, time), as pricelet does. */
  features(now) {
    const memoKey = `${this.events.length}/${now}`;
    if (this.featureMemo?.[0] === memoKey) return this.featureMemo[1];
    const s = this.summary(now);
    const x = new Float32Array(this.specs.map((f) => {
      const v = s[f.from];
      if (f.transform === 'log1p') return Math.log1p(v);
      if (f.transform.startsWith('equals:')) return v === Number(f.transform.slice(7)) ? 1 : 0;
      return v;
    }));
    this.featureMemo = [memoKey, [x, Array.from(x).join(',')]];
    return this.featureMemo[1];
  }

  remember(key, r) {
    if (this.scoreCache.size >= 256) this.scoreCache.clear();
    this.scoreCache.set(key, r);
    return r;
  }

  async interest(now) {
    const [x, key] = this.features(now);
    if (this.scoreCache.has(key)) return this.scoreCache.get(key);
    const out = await this.session.run({ features: new this.ort.Tensor('float32', x, [1, x.length]) });
    return this.remember(key, out.interest.data[0]);
  }

  candidates(item, list, exp) {
    const p = this.policy;
    const capPct = capPpm(p, item);
    const capPrice = Math.ceil(list * (1e6 - capPct) / 1e6);
    const m = ppmOfPercent(p.margin.minMarginPercent);
    const tax = p.tax.pricesIncludeTax ? ppmOfPercent(p.tax.ratePercent) : 0;
    const cost = item.cost !== undefined ? parseMinor(item.cost, exp) : null;
    const floorPrice = item.floorPrice !== undefined ? parseMinor(item.floorPrice, exp) : null;
    const marginFloor = (c) => Math.ceil(c * (1e6 + tax) / (1e6 - m));
    let floor;
    if (cost !== null) floor = Math.max(marginFloor(cost), floorPrice ?? 0);
    else if (floorPrice !== null) floor = floorPrice;
    else floor = Math.ceil(list * ppmOfPercent(p.margin.defaultCostPercent) / (1e6 - m));
    const costMinor = cost ?? Math.ceil(list * (ppmOfPercent(p.margin.defaultCostPercent) * 1e6 / (1e6 + tax)) / 1e6);
    const out = [{ price: list, step: 0 }];
    const lo = Math.max(floor, capPrice);
    const hi = list - 1;
    if (lo <= hi) {
      const endings = this.endings[item.currency] ?? this.endings.default;
      for (const stepPct of p.discountSteps) {
        const step = ppmOfPercent(stepPct);
        const target = Math.max(list * (1e6 - step), lo * 1e6);
        const price = priceNear(target, lo, hi, endings);
        if (price !== null && !out.some((c) => c.price === price)) out.push({ price, step: Math.min(step, capPct) });
      }
    }
    out.sort((a, b) => b.price - a.price);
    return { out, costMinor, tax };
  }

  cached(item, now) {
    const q = this.quotes.get(item.id);
    return q && now < q.issuedAt + this.stabilityTtlMs && q.listPriceMinor === parseMinor(item.price, EXPONENTS[item.currency]) ? q : null;
  }

  excluded(item) {
    const x = this.policy.exclusions;
    return x.categories.includes(item.category) || x.itemIds.includes(item.id) || (item.tags ?? []).some((t) => x.tags.includes(t));
  }

  async priceFor(item, now = this.now()) {
    const excluded = this.excluded(item);
    return this.cached(item, now) ?? this.quote(item, now, excluded, excluded ? null : await this.interest(now));
  }

  async pricesFor(items) {
    const now = this.now();
    const out = [];
    for (const it of items) out.push(await this.priceFor(it, now));
    return out;
  }

  /** The quote for `item` at interest `r`: the same candidates, expected profit, exploration and id as pricelet. */
  quote(item, now, excluded, r) {
    const exp = EXPONENTS[item.currency];
    const list = parseMinor(item.price, exp);
    const p = this.policy;
    let price = list;
    let reason = excluded ? 'excluded' : this.control ? 'control' : 'personalized';
    if (!excluded) {
      const { out, costMinor, tax } = this.candidates(item, list, exp);
      const rc = Math.min(Math.max(r, 1e-4), 1 - 1e-4);
      const base = Math.log(rc / (1 - rc));
      const beta = p.strategy.beta;
      const net = (q) => (tax ? q * 1e6 / (1e6 + tax) : q);
      const profit = (q, d) => (1 / (1 + Math.exp(-(base + beta * d)))) * (net(q) - costMinor);
      const ep = out.map((c) => profit(c.price, (list - c.price) / list));
      let idx = 0;
      ep.forEach((v, i) => { if (v > ep[idx] * (1 + 1e-12) + 1e-9) idx = i; });
      const window = String(Math.floor(now / p.experiment.explorationWindowMs));
      const explore = this.arms && !this.control && out.length > 1 && uniform(['pricelet/explore', this.anonId, item.id, window]) < ppmOfPercent(p.experiment.explorationPercent) / 1e6;
      if (explore) {
        idx = Math.min(Math.floor(uniform(['pricelet/explore-pick', this.anonId, item.id, window]) * out.length), out.length - 1);
        reason = 'explore';
      }
      if (!this.control) price = out[idx].price;
    }
    const q = {
      itemId: item.id, currency: item.currency, listPriceMinor: list, priceMinor: price, discountMinor: list - price,
      reason, interest: r, policyVersion: p.version, issuedAt: now, expiresAt: now + p.quoteTtlMs,
    };
    const canon = JSON.stringify(Object.fromEntries(Object.entries(q).filter(([k]) => k !== 'interest').sort()));
    q.quoteId = createHash('sha256').update(canon).digest('base64url').slice(0, 24);
    if (this.stabilityTtlMs > 0) this.quotes.set(item.id, q);
    return q;
  }
}

/**
 * The floor: the same pricing arithmetic and caching with the shipped model evaluated in plain
 * JavaScript — its TreeEnsembleRegressor walked from the ONNX file's attributes, then Sigmoid and
 * Clip — synchronously, no engine at all. Nothing pricelet runs can cost less than this.
 */
export class FloorPricer extends ReferencePricer {
  static create({ modelBytes, ...rest }) {
    return new FloorPricer({ forest: readInterestModel(modelBytes), ...rest });
  }

  interestNow(now) {
    const [x, key] = this.features(now);
    return this.scoreCache.get(key) ?? this.remember(key, this.forest(x));
  }

  priceFor(item, now = this.now()) {
    const excluded = this.excluded(item);
    return this.cached(item, now) ?? this.quote(item, now, excluded, excluded ? null : this.interestNow(now));
  }

  pricesFor(items) {
    const now = this.now();
    return items.map((it) => this.priceFor(it, now));
  }
}

/** The ONNX messages the floor reads (field numbers from onnx.proto), decoded with protobufjs. */
const ONNX = protobuf.Root.fromJSON({
  nested: {
    Model: { fields: { graph: { id: 7, type: 'Graph' } } },
    Graph: { fields: { node: { id: 1, rule: 'repeated', type: 'Node' }, initializer: { id: 5, rule: 'repeated', type: 'Tensor' } } },
    Node: {
      fields: {
        input: { id: 1, rule: 'repeated', type: 'string' }, output: { id: 2, rule: 'repeated', type: 'string' },
        opType: { id: 4, type: 'string' }, attribute: { id: 5, rule: 'repeated', type: 'Attribute' },
      },
    },
    Attribute: {
      fields: {
        name: { id: 1, type: 'string' }, f: { id: 2, type: 'float' }, i: { id: 3, type: 'int64' }, s: { id: 4, type: 'bytes' },
        floats: { id: 7, rule: 'repeated', type: 'float' }, ints: { id: 8, rule: 'repeated', type: 'int64' },
        strings: { id: 9, rule: 'repeated', type: 'bytes' },
      },
    },
    Tensor: { fields: { dataType: { id: 2, type: 'int32' }, floatData: { id: 4, rule: 'repeated', type: 'float' }, name: { id: 8, type: 'string' }, rawData: { id: 9, type: 'bytes' } } },
  },
});

/** The arrays `forestOf` walks, read from a model of the shipped shape: TreeEnsembleRegressor → Sigmoid → Clip. */
export function readForest(bytes) {
  const graph = ONNX.lookupType('Model').decode(bytes).graph;
  const ops = graph.node.map((n) => n.opType).join(',');
  if (ops !== 'TreeEnsembleRegressor,Sigmoid,Clip') throw new Error(`the floor reads TreeEnsembleRegressor, Sigmoid, Clip; this model has ${ops}`);
  const a = Object.fromEntries(graph.node[0].attribute.map((x) => [x.name, x]));
  const ints = (name) => a[name].ints.map(Number);
  const text = new TextDecoder();
  const modes = a.nodes_modes.strings.map((s) => text.decode(s));
  if (modes.some((m) => m !== 'LEAF' && m !== 'BRANCH_LEQ')) throw new Error('the floor walks BRANCH_LEQ trees only');
  const [trees, ids, feats, yes, no] = ['nodes_treeids', 'nodes_nodeids', 'nodes_featureids', 'nodes_truenodeids', 'nodes_falsenodeids'].map(ints);
  const at = new Map(trees.map((t, k) => [`${t}/${ids[k]}`, k]));
  const n = trees.length;
  const next = new Array(2 * n).fill(0);
  const leaf = new Array(n).fill(0);
  const isLeaf = modes.map((m) => (m === 'LEAF' ? 1 : 0));
  for (let k = 0; k < n; k += 1) {
    if (!isLeaf[k]) [next[2 * k], next[2 * k + 1]] = [at.get(`${trees[k]}/${yes[k]}`), at.get(`${trees[k]}/${no[k]}`)];
  }
  const [tt, tn, tw] = [ints('target_treeids'), ints('target_nodeids'), a.target_weights.floats];
  tt.forEach((t, k) => { leaf[at.get(`${t}/${tn[k]}`)] += tw[k]; });
  const roots = trees.flatMap((t, k) => (k === 0 || trees[k - 1] !== t ? [k] : []));
  const bound = (name) => {
    const t = graph.initializer.find((i) => i.name === name);
    return t.floatData.length ? t.floatData[0] : new DataView(t.rawData.buffer, t.rawData.byteOffset).getFloat32(0, true);
  };
  return {
    feature: feats, threshold: Array.from(a.nodes_values.floats), next, leaf, isLeaf, roots,
    base: a.base_values?.floats[0] ?? 0, lo: bound(graph.node[2].input[1]), hi: bound(graph.node[2].input[2]),
  };
}

/** `x` (Float32Array) → interest, for a model of the shipped shape. */
export function readInterestModel(bytes) {
  return forestOf(readForest(bytes));
}

export function loadSpec(root) {
  return JSON.parse(readFileSync(join(root, 'models', 'features.json'), 'utf8'));
}
