// The Worker's secrets: the signing keys of edge quotes, and the tokens of the merchant's
// endpoints, compared in constant time.
import { HttpError } from './http.js';

export function signingKeys(env) {
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

/**
 * Compares a presented secret with the expected one in constant time: both are hashed first, so
 * neither their contents nor their lengths show in the time taken (workerd's
 * crypto.subtle.timingSafeEqual needs inputs of equal length).
 */
async function sameSecret(presented, expected) {
  const digest = async (s) => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  return crypto.subtle.timingSafeEqual(await digest(presented), await digest(expected));
}

/** Whether the request carries `Authorization: Bearer <token>`. */
export async function bearerIs(request, token) {
  return sameSecret(request.headers.get('authorization') ?? '', `Bearer ${token}`);
}

/** The policy admin endpoints change what every shopper is quoted: they need their own secret. */
export async function requireAdmin(request, env) {
  const token = env.PRICELET_ADMIN_TOKEN;
  if (typeof token !== 'string' || token.length < 16) {
    throw new HttpError(503, 'admin_token_missing', 'the Worker has no PRICELET_ADMIN_TOKEN secret (at least 16 characters): run `wrangler secret put PRICELET_ADMIN_TOKEN` to use the /policy admin endpoints');
  }
  if (!(await bearerIs(request, token))) {
    throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <PRICELET_ADMIN_TOKEN>', { 'www-authenticate': 'Bearer' });
  }
}
