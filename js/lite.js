// The lite engine: list-price quotes, checkout payloads and the engine's limits only (no
// inference), compiled synchronously from inlined bytes so they work before the full engine has
// loaded. Takes and returns JSON text, like the engine (js/core.js).
import * as lite from '../dist/lite.js';
import liteWasm from '../dist/lite-wasm.js';

let ready = false;

function ensureLite() {
  if (ready) return;
  // Uint8Array.fromBase64 where there is one (native); else a plain loop (Uint8Array.from with a
  // mapping function costs ~5× more: it runs on the page's main thread before its first prices).
  let bytes = Uint8Array.fromBase64?.(liteWasm);
  if (!bytes) {
    const text = atob(liteWasm);
    bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
  }
  lite.initSync({ module: new WebAssembly.Module(bytes) });
  ready = true;
}

/** `fn` of the lite module, instantiated on first use (the page may never need it). */
function lazy(fn) {
  return (...args) => {
    ensureLite();
    return fn(...args);
  };
}

export const listQuote = lazy(lite.listQuote);
export const quoteBeforeReady = lazy(lite.quoteBeforeReady);
export const constants = lazy(lite.constants);
export const toCheckout = lazy(lite.toCheckout);
export const limits = lazy(lite.limits);
