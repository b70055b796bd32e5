// The lite engine: list-price quotes, checkout payloads and the engine's limits only (no
// inference), compiled synchronously from inlined bytes so they work before the full engine has
// loaded. Takes and returns JSON text, like the engine (js/core.js).
import * as lite from '../dist/lite.js';
import liteWasm from '../dist/lite-wasm.js';

let ready = false;

function ensureLite() {
  if (ready) return;
  const bytes = Uint8Array.from(atob(liteWasm), (c) => c.charCodeAt(0));
  lite.initSync({ module: new WebAssembly.Module(bytes) });
  ready = true;
}

export function listQuote(item, policy, now) {
  ensureLite();
  return lite.listQuote(item, policy, now);
}

export function toCheckout(quote) {
  ensureLite();
  return lite.toCheckout(quote);
}

export function limits() {
  ensureLite();
  return lite.limits();
}
