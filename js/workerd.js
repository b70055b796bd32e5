// Cloudflare Workers (workerd) entry: the engine with the server-side exports; the wasm is imported as a compiled module (workerd forbids
// compiling from bytes) and instantiated synchronously at import. Models come from the caller
// (bytes, or a URL it may fetch); storage is memory only.
import * as engine from '../dist/pricelet_server.js';
import wasmModule from '../dist/pricelet_server_bg.wasm';
import { makeApi } from './core.js';

async function readBytes(source) {
  const res = await fetch(source);
  if (!res.ok) throw new Error(`HTTP ${res.status} for ${source}`);
  return new Uint8Array(await res.arrayBuffer());
}

const api = makeApi({
  engine,
  loadModule: () => wasmModule,
  readBytes,
  defaultModel: () => null,
  hasLocalStorage: () => false,
  watchStorage: () => null,
});

api.initWithModule(wasmModule);

export const { createPricer, listQuote, quoteBeforeReady, verifyQuote, validatePolicy, toCheckout, signQuote, tallyReports, mergeTallies, estimates, proposePolicy, policyRules, init, constants } = api;
