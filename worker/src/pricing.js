// Edge pricing and checkout verification: /price signs every quote it makes, /verify checks a
// posted quote against the catalog's own item and the served policy (with its grace period).
import { verifyQuote } from 'pricelet';
import catalogFile from '../../www/catalog.json';
import { HttpError, JSON_HEADERS, allow, json, readJson, readText } from './http.js';
import { getPricer, servedPolicy } from './policies.js';
import { signingKeys } from './secrets.js';

const CATALOG = new Map((Array.isArray(catalogFile) ? catalogFile : catalogFile.products ?? []).map((item) => [item.id, item]));

export async function price(request, env) {
  allow(request, 'POST');
  const keys = signingKeys(env);
  const text = await readText(request);
  const p = await getPricer((await servedPolicy(env)).policy);
  let quotes;
  try {
    // The body's text goes to the engine as it came (no parse here), and the signed quotes come
    // back as JSON text for the response: one crossing, no JSON round trips in JavaScript.
    quotes = p.priceFromFeatures(text, { sign: { keyId: keys.keyId, key: keys.key }, json: true });
  } catch (e) {
    if (typeof e?.code === 'string') throw requestError(text, e);
    throw e;
  }
  return new Response(`{"quotes":${quotes}}`, { status: 200, headers: JSON_HEADERS });
}

/** What was wrong with a body the engine refused, in the Worker's codes: JSON first, then shape. */
function requestError(text, e) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return new HttpError(400, 'invalid_json', 'the request body must be JSON (UTF-8)');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(body.items)) {
    return new HttpError(400, 'invalid_request', 'send { items: [...], features?, featureNames?, variant? } as produced by pricer.edgeRequest(items)');
  }
  return new HttpError(400, e.code, e.message);
}

export async function verify(request, env) {
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
  let current = await servedPolicy(env);
  // A version this isolate does not know yet may be one another isolate just began to serve: ask
  // the store again, at most once a second, so bogus versions cannot flood it.
  if (body.quote.policyVersion !== current.policy.version && current.at !== undefined && Date.now() - current.at > 1000) {
    current = await servedPolicy(env, { fresh: true });
  }
  try {
    // A quantity that is not a positive whole number fails verification (invalid_quantity), as in the package.
    const options = { keys: keys.all, now: Date.now(), ...('quantity' in body ? { quantity: body.quantity } : {}) };
    // The current policy names the version it replaced and until when its quotes still verify.
    const result = await verifyQuote(body.quote, item, current.policy, options);
    return json(200, { ...result, itemSource: own ? 'catalog' : 'request' });
  } catch (e) {
    if (typeof e?.code === 'string') throw new HttpError(400, e.code, e.message);
    throw e;
  }
}

export async function health(request, env) {
  allow(request, 'GET');
  const s = (await getPricer((await servedPolicy(env)).policy)).status;
  return json(200, { ok: s.model.state === 'ready', model: s.model.info?.version ?? null, modelState: s.model.state, policy: s.policyVersion, engineResets: s.engineResets, wasmMemoryBytes: s.wasmMemoryBytes });
}
