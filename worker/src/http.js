// Requests and responses: JSON errors with a code (never a stack trace), methods, and bodies read
// with a size cap counted while they stream in.

export const MAX_BODY_BYTES = 64 * 1024;

export class HttpError extends Error {
  constructor(status, code, message, headers = {}) {
    super(message);
    Object.assign(this, { status, code, headers });
  }
}

/** An error code and message an RPC method returns instead of throwing (RPC keeps no custom error fields). */
export const failure = (code, message, status = 400) => ({ error: { code, message, status } });

export function unwrap(result) {
  if (result?.error) throw new HttpError(result.error.status ?? 400, result.error.code, result.error.message);
  return result;
}

export const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

export function allow(request, method) {
  if (request.method !== method) {
    throw new HttpError(405, 'method_not_allowed', `use ${method} for this endpoint`, { allow: method });
  }
}

/** The body as UTF-8 text: at most MAX_BODY_BYTES, whatever Content-Length claims. */
export async function readText(request) {
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
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body must be JSON (UTF-8)');
  }
}

/** The body parsed as JSON (see readText). */
export async function readJson(request) {
  const text = await readText(request);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body must be JSON (UTF-8)');
  }
}

/** A SHA-256 of `text`, base64url without padding (ETags, fingerprints). */
export async function digest(text) {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
