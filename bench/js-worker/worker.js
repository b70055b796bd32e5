// The plain-JavaScript Worker that `npm run bench:worker` runs beside pricelet's in workerd: the
// same POST /price work — parse the JSON body, check it as the engine does (shape, item count,
// feature names, finite values inside the model's ranges, items), walk the interest model's trees
// (forest.js), choose each price by the policy's expected profit (bench/reference.mjs's
// arithmetic), build the same quote JSON, hash its id and sign it with WebCrypto's SHA-256 and
// HMAC — and nothing else. Built twice: with WebCrypto (async, the Workers standard) and, with
// `nodejs_compat`, with node:crypto's synchronous createHash/createHmac (SYNC_CRYPTO, set by the
// bundler). It supports what the bench sends (the default policy's expectedProfit strategy,
// EUR-style price endings); the bench checks its quotes equal pricelet's and verify.
// Benchmark-only code.
import { createHash, createHmac } from 'node:crypto';
import { capPpm, ppm, priceNear } from './endings.js';
import { forestOf } from './forest.js';
import setup from './setup.json';

/* global SYNC_CRYPTO */

const { policy, model } = setup;
const interestOf = forestOf(setup.forest);
const EXPONENTS = { EUR: 2, USD: 2, GBP: 2, JPY: 0, KWD: 3 };
const MAX_ITEMS = 200;
const MAX_BODY_BYTES = 64 * 1024;
const encoder = new TextEncoder();

const endings = Object.fromEntries(Object.entries(policy.priceEndings).map(([c, list]) => [c, list.map((e) => {
  if (e === 'any') return [1, 0];
  if (e.startsWith('step:')) return [Number(e.slice(5)), 0];
  const exp = EXPONENTS[c] ?? 2;
  return e === 'whole' ? [10 ** exp, 0] : [10 ** exp, Number(e.slice(1))];
})]));
const label = policy.disclosure.labels[policy.disclosure.jurisdiction] ?? null;
const control = ppm(policy.experiment.controlPercent) / 1e6;

let keyPromise;
function hmacKey(secret) {
  keyPromise ??= crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return keyPromise;
}

function base64url(buffer, bytes) {
  const b = new Uint8Array(buffer, 0, bytes);
  let s = '';
  for (let i = 0; i < b.length; i += 1) s += String.fromCharCode(b[i]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

class Refused extends Error {
  constructor(code, message, field) {
    super(message);
    Object.assign(this, { code, field });
  }
}

function minor(v, exp, field) {
  const s = typeof v === 'number' ? String(v) : v;
  if (typeof s !== 'string' || !/^\d+(\.\d+)?$/.test(s)) throw new Refused('invalid_price', `${field} must be a decimal amount`, field);
  const [i, f = ''] = s.split('.');
  const frac = f.replace(/0+$/, '');
  if (frac.length > exp) throw new Refused('invalid_price', `${field} has more decimals than the currency`, field);
  return Number(i) * 10 ** exp + Number((frac + '0'.repeat(exp)).slice(0, exp) || '0');
}

function parseItem(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Refused('invalid_item', 'an item must be an object', '');
  if (typeof v.id !== 'string' || v.id.length === 0) throw new Refused('invalid_item', 'id must be a non-empty string', 'id');
  const exp = EXPONENTS[v.currency];
  if (exp === undefined) throw new Refused('unknown_currency', `unknown currency ${v.currency}`, 'currency');
  const list = minor(v.price, exp, 'price');
  if (list <= 0) throw new Refused('invalid_price', 'price must be positive', 'price');
  return { id: v.id, currency: v.currency, category: v.category, tags: v.tags ?? [], exp, list, cost: v.cost === undefined ? null : minor(v.cost, exp, 'cost') };
}

/** The candidate prices (list first, then by increasing discount) and the item's cost and cap. */
function candidates(item) {
  const { list, exp } = item;
  const capPct = capPpm(policy, item);
  const capPrice = Math.ceil(list * (1e6 - capPct) / 1e6);
  const m = ppm(policy.margin.minMarginPercent);
  const tax = policy.tax.pricesIncludeTax ? ppm(policy.tax.ratePercent) : 0;
  const floor = item.cost !== null ? Math.ceil(item.cost * (1e6 + tax) / (1e6 - m)) : Math.ceil(list * ppm(policy.margin.defaultCostPercent) / (1e6 - m));
  const costMinor = item.cost ?? Math.ceil(list * (ppm(policy.margin.defaultCostPercent) * 1e6 / (1e6 + tax)) / 1e6);
  const out = [{ price: list }];
  const lo = Math.max(floor, capPrice);
  const hi = list - 1;
  if (lo <= hi) {
    for (const stepPct of policy.discountSteps) {
      const target = Math.max(list * (1e6 - ppm(stepPct)), lo * 1e6);
      const price = priceNear(target, lo, hi, endings[item.currency] ?? endings.default);
      if (price !== null && !out.some((c) => c.price === price)) out.push({ price });
    }
  }
  out.sort((a, b) => b.price - a.price);
  return { out, costMinor, tax, capPct };
}

/** The quote for one item at interest `r`, unsigned (its id and signature are added after). */
function quote(item, r, variant, now) {
  const excluded = policy.exclusions.categories.includes(item.category) || policy.exclusions.itemIds.includes(item.id)
    || item.tags.some((t) => policy.exclusions.tags.includes(t));
  const listMajor = item.list / 10 ** item.exp;
  const q = {
    itemId: item.id, currency: item.currency, listPriceMinor: item.list, priceMinor: item.list, discountMinor: 0,
    listPrice: listMajor, price: listMajor, discountPercent: 0, personalized: false, reason: 'excluded',
    explanation: '', label: null, interest: null, variant: 'none', propensity: 1, modelVersion: model.version,
    policyVersion: policy.version, issuedAt: now, expiresAt: now + policy.quoteTtlMs, quoteId: '',
  };
  if (excluded) return q;
  const { out, costMinor, tax, capPct } = candidates(item);
  const rc = Math.min(Math.max(r, 1e-4), 1 - 1e-4);
  const base = Math.log(rc / (1 - rc));
  const beta = policy.strategy.beta;
  const net = (p) => (tax ? p * 1e6 / (1e6 + tax) : p);
  const profit = (p, d) => (1 / (1 + Math.exp(-(base + beta * d)))) * (net(p) - costMinor);
  const ep = out.map((c) => profit(c.price, (item.list - c.price) / item.list));
  let chosen = 0;
  ep.forEach((v, i) => { if (v > ep[chosen] * (1 + 1e-12) + 1e-9) chosen = i; });
  const listProfit = profit(item.list, 0);
  const wanted = policy.discountSteps.some((s) => { const d = ppm(s) / 1e6; return profit(item.list - Math.trunc(item.list * d), d) > listProfit * (1 + 1e-12) + 1e-9; });
  const shown = variant === 'control' ? 0 : chosen;
  q.reason = variant === 'control' ? 'control' : chosen === 0 && wanted && out.length === 1 ? 'no_feasible_price' : 'personalized';
  q.priceMinor = out[shown].price;
  q.discountMinor = item.list - q.priceMinor;
  q.price = q.priceMinor / 10 ** item.exp;
  q.discountPercent = q.discountMinor > 0 ? Math.floor((q.discountMinor * 10_000) / item.list) / 100 : 0;
  q.personalized = q.reason === 'personalized' || q.reason === 'no_feasible_price';
  q.label = q.personalized ? label : null;
  q.interest = r;
  q.variant = variant;
  q.propensity = control * (shown === 0 ? 1 : 0) + (1 - control) * (shown === chosen ? 1 : 0);
  const off = `${q.discountPercent}% off`;
  q.explanation = q.reason === 'control'
    ? `List price: you are in the comparison group (${control * 100}% of shoppers) that always sees list prices, so the store can measure whether its discounts help.`
    : q.reason === 'no_feasible_price'
      ? "List price: a discount was considered, but none fits the store's minimum margin, cap and price-ending rules for this item."
      : q.discountMinor > 0
        ? `${off}: computed on this device from your browsing here, which suggests an offer makes a purchase more likely. The store never discounts more than ${capPct / 10_000}% and never below its minimum margin.`
        : "List price: your browsing here does not call for a discount under the store's pricing policy.";
  return q;
}

/** RFC 8785 text of what the quote id hashes (and, with the key id, what the signature signs). */
function jcs(q, keyId) {
  const s = JSON.stringify;
  return `{"currency":${s(q.currency)},"discountMinor":${q.discountMinor},"expiresAt":${q.expiresAt},"issuedAt":${q.issuedAt},"itemId":${s(q.itemId)}${keyId === undefined ? '' : `,"keyId":${s(keyId)}`},"listPriceMinor":${q.listPriceMinor},"modelVersion":${s(q.modelVersion)},"policyVersion":${s(q.policyVersion)},"priceMinor":${q.priceMinor}${keyId === undefined ? '' : `,"quoteId":${s(q.quoteId)}`},"reason":${s(q.reason)},"variant":${s(q.variant)}}`;
}

async function seal(q, key, keyId) {
  q.quoteId = base64url(await crypto.subtle.digest('SHA-256', encoder.encode(jcs(q))), 18);
  q.keyId = keyId;
  q.sig = base64url(await crypto.subtle.sign('HMAC', key, encoder.encode(jcs(q, keyId))), 32);
  return q;
}

function sealSync(q, secret, keyId) {
  q.quoteId = createHash('sha256').update(jcs(q)).digest('base64url').slice(0, 24);
  q.keyId = keyId;
  q.sig = createHmac('sha256', secret).update(jcs(q, keyId)).digest('base64url');
  return q;
}

/** The model's columns in the request's rows, checked as the engine checks them. */
function columns(names, rows, n) {
  if (!Array.isArray(names) || names.length === 0) throw new Refused('invalid_features', 'featureNames is required with features', 'featureNames');
  const at = model.features.map((f) => names.indexOf(f));
  if (at.some((j) => j < 0)) throw new Refused('invalid_features', `the interest model needs features ${model.features.join(', ')}`, 'featureNames');
  if (!Array.isArray(rows) || rows.length !== n) throw new Refused('invalid_features', 'send one feature row per item', 'features');
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== names.length) throw new Refused('invalid_features', 'row length differs from featureNames', `features[${i}]`);
    row.forEach((x, j) => {
      const range = model.ranges[names[j]];
      if (typeof x !== 'number' || !Number.isFinite(x) || (range && (x < range[0] || x > range[1]))) throw new Refused('invalid_features', 'a feature value outside what a device computes', `features[${i}][${j}]`);
    });
  });
  return at;
}

async function price(request, env) {
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) return answer(413, { code: 'body_too_large', message: `request bodies are limited to ${MAX_BODY_BYTES} bytes` });
  let body;
  try { body = JSON.parse(text); } catch { return answer(400, { code: 'invalid_json', message: 'the request body must be JSON (UTF-8)' }); }
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(body.items)) return answer(400, { code: 'invalid_request', message: 'send { items, features?, featureNames?, variant? }' });
  if (body.items.length > MAX_ITEMS) return answer(400, { code: 'limit_exceeded', message: `at most ${MAX_ITEMS} items per request` });
  const variant = body.variant ?? 'treatment';
  if (variant !== 'control' && variant !== 'treatment') return answer(400, { code: 'invalid_argument', message: "variant must be 'control' or 'treatment'" });
  const now = Date.now();
  const key = SYNC_CRYPTO ? null : await hmacKey(env.PRICELET_SIGNING_KEY);
  const scored = new Map();
  let at;
  try {
    at = body.features === undefined ? null : columns(body.featureNames, body.features, body.items.length);
  } catch (e) {
    return answer(400, { code: e.code, message: e.message, field: e.field });
  }
  const sealed = body.items.map((v, i) => {
    let item;
    try { item = parseItem(v); } catch (e) { return { itemId: typeof v?.id === 'string' ? v.id : null, error: { code: e.code, field: e.field, message: e.message } }; }
    let r = null;
    if (at) {
      const row = body.features[i];
      const cols = at.map((j) => row[j]);
      const k = cols.join(',');
      r = scored.get(k);
      if (r === undefined) scored.set(k, (r = interestOf(cols)));
    }
    const q = r === null ? { ...quote(item, 0, 'none', now), reason: 'no_features', explanation: 'List price: the request carried no features (personalization needs the shopper\'s consent).' } : quote(item, r, variant, now);
    if (q.reason === 'excluded') q.explanation = 'List price: the item is excluded by the policy.';
    return SYNC_CRYPTO ? sealSync(q, env.PRICELET_SIGNING_KEY, env.PRICELET_KEY_ID) : seal(q, key, env.PRICELET_KEY_ID);
  });
  const quotes = SYNC_CRYPTO ? sealed : await Promise.all(sealed);
  return answer(200, { quotes });
}

function answer(status, body) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });
}

export default {
  fetch(request, env) {
    if (new URL(request.url).pathname !== '/price' || request.method !== 'POST') return answer(404, { code: 'not_found', message: 'POST /price' });
    return price(request, env);
  },
};
