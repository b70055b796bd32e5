// pricelet's edge Worker: prices derived model inputs a consenting device sends (edge mode), signs
// every quote, verifies quotes at checkout, collects local-DP measurement reports, and serves the
// storefront. It is a client of the pricelet package like any user's code. It logs nothing, stores
// nothing about a request to /price or /verify, and of /report keeps only the running tally (sums
// of already randomized bits) in one Durable Object per policy version.
import { DurableObject } from 'cloudflare:workers';
import { constants, createPricer, estimates, tallyReports, verifyQuote } from 'pricelet';
import model from 'pricelet/models/interest.onnx';
import catalogFile from '../../www/catalog.json';

const MAX_BODY_BYTES = 64 * 1024;
// The engine is ready at import in workerd: its constants are read once.
const { maxEdgeItems: MAX_EDGE_ITEMS } = constants();
const CATALOG = new Map((Array.isArray(catalogFile) ? catalogFile : catalogFile.products ?? []).map((item) => [item.id, item]));

// Model and policy load once per isolate, on the first request that needs them.
let pricer = null;
function getPricer() {
  pricer ??= createPricer({ model: new Uint8Array(model), consent: 'denied' });
  return pricer;
}

class HttpError extends Error {
  constructor(status, code, message, headers = {}) {
    super(message);
    Object.assign(this, { status, code, headers });
  }
}

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers } });
}

function allow(request, method) {
  if (request.method !== method) {
    throw new HttpError(405, 'method_not_allowed', `use ${method} for this endpoint`, { allow: method });
  }
}

/** Reads at most MAX_BODY_BYTES, whatever Content-Length claims, and parses JSON. */
async function readJson(request) {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'body_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
  const reader = request.body?.getReader();
  const chunks = [];
  let size = 0;
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new HttpError(413, 'body_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) { bytes.set(c, offset); offset += c.byteLength; }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body must be JSON (UTF-8)');
  }
}

function signingKeys(env) {
  const key = env.PRICELET_SIGNING_KEY;
  if (typeof key !== 'string' || key.length < 16) {
    throw new HttpError(503, 'signing_key_missing', 'the Worker has no PRICELET_SIGNING_KEY secret (at least 16 characters): run `wrangler secret put PRICELET_SIGNING_KEY`');
  }
  const keyId = env.PRICELET_KEY_ID || 'k1';
  // Rotation: quotes signed with earlier keys still verify while they are listed here.
  let previous = {};
  if (env.PRICELET_PREVIOUS_KEYS) {
    try { previous = JSON.parse(env.PRICELET_PREVIOUS_KEYS); } catch { previous = null; }
    if (previous === null || typeof previous !== 'object' || Array.isArray(previous)) {
      throw new HttpError(503, 'signing_key_invalid', 'PRICELET_PREVIOUS_KEYS must be a JSON object { keyId: secret }');
    }
    for (const [id, secret] of Object.entries(previous)) {
      if (typeof secret !== 'string' || secret.length < 16) {
        throw new HttpError(503, 'signing_key_invalid', `PRICELET_PREVIOUS_KEYS.${id} must be a secret of at least 16 characters, like PRICELET_SIGNING_KEY`);
      }
    }
  }
  return { keyId, key, all: { ...previous, [keyId]: key } };
}

async function price(request, env) {
  allow(request, 'POST');
  const keys = signingKeys(env);
  const body = await readJson(request);
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(body.items)) {
    throw new HttpError(400, 'invalid_request', 'send { items: [...], features?, featureNames?, variant? } as produced by pricer.edgeRequest(items)');
  }
  if (body.items.length > MAX_EDGE_ITEMS) throw new HttpError(400, 'limit_exceeded', `at most ${MAX_EDGE_ITEMS} items per request`);
  const p = await getPricer();
  let quotes;
  try {
    // Priced and signed in one call into the engine (one boundary crossing, not one per quote).
    quotes = p.priceFromFeatures(body, { sign: { keyId: keys.keyId, key: keys.key } });
  } catch (e) {
    if (typeof e?.code === 'string') throw new HttpError(400, e.code, e.message);
    throw e;
  }
  return json(200, { quotes });
}

async function verify(request, env) {
  allow(request, 'POST');
  const keys = signingKeys(env);
  const body = await readJson(request);
  if (body === null || typeof body !== 'object' || typeof body.quote !== 'object' || body.quote === null) {
    throw new HttpError(400, 'invalid_request', 'send { quote, item?, quantity? }: the quote (or its toCheckout payload)');
  }
  // The server's own catalog item wins; a given item is used only for ids the catalog does not know.
  const own = CATALOG.get(body.quote.itemId);
  const item = own ?? body.item;
  if (!item) throw new HttpError(400, 'unknown_item', `item ${JSON.stringify(String(body.quote.itemId))} is not in the catalog; send it as "item"`);
  try {
    // A quantity that is not a positive whole number fails verification (invalid_quantity), as in the package.
    const options = { keys: keys.all, now: Date.now(), ...('quantity' in body ? { quantity: body.quantity } : {}) };
    const result = await verifyQuote(body.quote, item, null, options);
    return json(200, { ...result, itemSource: own ? 'catalog' : 'request' });
  } catch (e) {
    if (typeof e?.code === 'string') throw new HttpError(400, e.code, e.message);
    throw e;
  }
}

/** The tally of one policy's reporting setup. Reports are folded in and dropped at once. */
export class ReportTally extends DurableObject {
  /** `{ total }`, or `{ error: { code, message } }` (RPC keeps no custom error fields). */
  async add(reports) {
    // One read-modify-write at a time, so concurrent batches never lose each other's counts.
    return this.ctx.blockConcurrencyWhile(async () => {
      let next;
      try {
        next = await tallyReports(reports, (await this.ctx.storage.get('tally')) ?? null);
      } catch (e) {
        if (typeof e?.code === 'string') return { error: { code: e.code, message: e.message } };
        throw e;
      }
      await this.ctx.storage.put('tally', next);
      return { total: next.n };
    });
  }

  async tally() {
    return (await this.ctx.storage.get('tally')) ?? null;
  }
}

async function tallyFor(env) {
  if (!env.REPORTS) throw new HttpError(503, 'reports_unavailable', 'this Worker has no REPORTS Durable Object binding (see worker/wrangler.jsonc)');
  const policy = (await getPricer()).policy;
  if (!policy.reporting) throw new HttpError(409, 'reporting_off', `policy ${policy.version} has no "reporting" section: devices make no reports under it`);
  return env.REPORTS.get(env.REPORTS.idFromName(`tally:${policy.version}`));
}

async function report(request, env) {
  allow(request, 'POST');
  const body = await readJson(request);
  if (body === null || typeof body !== 'object' || !Array.isArray(body.reports) || body.reports.length === 0) {
    throw new HttpError(400, 'invalid_request', 'send { reports: [...] }: the reports pricer.report() returned (at least one)');
  }
  if (body.reports.length > MAX_EDGE_ITEMS) throw new HttpError(400, 'limit_exceeded', `at most ${MAX_EDGE_ITEMS} reports per request`);
  const result = await (await tallyFor(env)).add(body.reports);
  if (result.error) throw new HttpError(400, result.error.code, result.error.message);
  return json(202, { accepted: body.reports.length, total: result.total });
}

/**
 * Compares a presented secret with the expected one in constant time: both are hashed first, so
 * neither their contents nor their lengths show in the time taken (workerd's
 * crypto.subtle.timingSafeEqual needs inputs of equal length).
 */
async function sameSecret(presented, expected) {
  const digest = async (s) => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  return crypto.subtle.timingSafeEqual(await digest(presented), await digest(expected));
}

async function readEstimates(request, env) {
  allow(request, 'GET');
  const token = env.PRICELET_ESTIMATES_TOKEN;
  if (token && !(await sameSecret(request.headers.get('authorization') ?? '', `Bearer ${token}`))) {
    throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <PRICELET_ESTIMATES_TOKEN>', { 'www-authenticate': 'Bearer' });
  }
  const tally = await (await tallyFor(env)).tally();
  if (!tally || tally.n === 0) throw new HttpError(404, 'no_reports', 'no reports yet for the current policy');
  return json(200, await estimates(tally));
}

async function health(request) {
  allow(request, 'GET');
  const s = (await getPricer()).status;
  return json(200, { ok: s.model.state === 'ready', model: s.model.info?.version ?? null, modelState: s.model.state, policy: s.policyVersion, engineResets: s.engineResets, wasmMemoryBytes: s.wasmMemoryBytes });
}

const ROUTES = { '/price': price, '/verify': verify, '/health': health, '/report': report, '/estimates': readEstimates };

export default {
  async fetch(request, env) {
    const route = ROUTES[new URL(request.url).pathname];
    try {
      if (route) return await route(request, env);
      if (env.ASSETS) return await env.ASSETS.fetch(request);
      throw new HttpError(404, 'not_found', 'no such endpoint: POST /price, POST /verify, GET /health, POST /report, GET /estimates');
    } catch (e) {
      if (e instanceof HttpError) return json(e.status, { code: e.code, message: e.message }, e.headers);
      // Never a stack trace: the engine resets itself after a trap; the caller may retry.
      return json(500, { code: 'internal', message: 'the Worker could not complete this request; retry it' });
    }
  },
};
