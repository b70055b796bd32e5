// The wrapper's own errors: Errors with a `code` and the `field` they name, shaped like the engine's.

/** Codes of the wrapper's own errors, beside the engine's (`constants().errorCodes`). */
export const WRAPPER_ERROR_CODES = ['engine_unavailable', 'engine_reset', 'freed', 'server_only'];

export function pricerError(code, message, field = null) {
  return Object.assign(new Error(message), { code, field });
}

/** An exception that is not one of ours (a throwing getter, a revoked Proxy) as a coded error. */
export function coded(e, code, what) {
  if (typeof e?.code === 'string' && e instanceof Error) return e;
  let why;
  try { why = e instanceof Error ? e.message : String(e); } catch { why = 'an unreadable value was thrown'; }
  return pricerError(code, `${what} could not be read (${why}); pass plain data`);
}

/** A wasm trap (panic, OOM, unreachable): it kills the engine instance. */
export function isTrap(e) {
  return e instanceof WebAssembly.RuntimeError;
}

/** A server-side function called where the entry's engine lacks it (a browser's). */
export function serverOnly(name) {
  // The method on a pricer and the package's functions have always been worded apart.
  const from = name === 'priceFromFeatures' ? "import 'pricelet'" : "import it from 'pricelet'";
  return pricerError('server_only', `${name} runs on a server: ${from} in Node or a Worker (the browser engine ships device code only)`);
}
