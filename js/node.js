// Node entry: the engine with the server-side exports (a merchant's server verifies, signs, tallies
// and prices edge requests); files are read from the package (or the paths / URLs the caller
// names). Storage defaults to memory; pass a { load, save } adapter to persist.
import { readFile } from 'node:fs/promises';
import * as engine from '../dist/pricelet_server.js';
import { makeApi } from './core.js';
import * as lite from './lite.js';

async function readBytes(source) {
  const s = source instanceof URL ? source.href : String(source);
  if (/^https?:/.test(s)) {
    const res = await fetch(s);
    if (!res.ok) throw new Error(`HTTP ${res.status} for ${s}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  return new Uint8Array(await readFile(s.startsWith('file:') ? new URL(s) : s));
}

async function loadModule(source) {
  if (source instanceof WebAssembly.Module) return source;
  const bytes = source instanceof Uint8Array || source instanceof ArrayBuffer
    ? source
    : await readBytes(source ?? new URL('../dist/pricelet_server_bg.wasm', import.meta.url));
  return WebAssembly.compile(bytes);
}

const api = makeApi({
  engine,
  loadModule,
  readBytes,
  defaultModel: (name) => new URL(`../models/${name}.onnx`, import.meta.url),
  hasLocalStorage: () => false,
  watchStorage: () => null,
  lite,
});

export const { createPricer, listQuote, quoteBeforeReady, verifyQuote, validatePolicy, toCheckout, signQuote, tallyReports, mergeTallies, estimates, proposePolicy, policyRules, init, constants } = api;
