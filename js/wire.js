// Arguments reach the engine as JSON text made here: a getter that throws, a revoked Proxy or a
// BigInt fails in JavaScript with a coded error before the engine is entered, so a hostile or
// careless argument can never leave a pricer half-borrowed inside wasm. Results come back as JSON
// text and are parsed into fresh objects on every call.
import { coded, pricerError } from './errors.js';

let limits = null; // the engine's limits (JSON from Rust), read once

/** The engine's limits, read through `read` by the first engine (full or lite) to load. */
export function readLimits(read) {
  return (limits ??= read());
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function replacer(key, value) {
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
export function wire(value, code, what, maxChars = limits?.maxInputChars ?? Infinity) {
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

/** A policy argument; null or undefined is the engine's bundled default. */
export function wirePolicy(policy) {
  return wire(policy ?? null, 'invalid_policy', 'the policy');
}

/** An array argument, refused by its length before anything is copied. */
export function batch(list, code, what) {
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

export function errorSlot(item, e) {
  return { itemId: idOf(item), error: { code: e.code, message: e.message, field: e.field ?? null } };
}

/** Bytes as a plain Uint8Array view (never a subclass with getters of its own), or null. */
export function asBytes(v) {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

/** `keys` of verifyQuote as [id, secret] pairs: a plain object or a Map, nothing else. */
export function keyEntries(keys) {
  if (keys instanceof Map) return Array.from(keys.entries());
  const proto = keys !== null && typeof keys === 'object' ? Object.getPrototypeOf(keys) : undefined;
  if (proto === Object.prototype || proto === null) return Object.entries(keys);
  throw pricerError('invalid_argument', 'keys must be a plain object { keyId: secret } or a Map of key ids to secrets', 'keys');
}
