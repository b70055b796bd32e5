// Browser entry (also bundlers' default): the device engine (no server-side code), files fetched
// relative to this module or from the URLs the caller names. The only network access is loading them.
import * as engine from '../dist/pricelet.js';
import { makeApi } from './core.js';
import * as lite from './lite.js';

async function readBytes(source) {
  const res = await fetch(source);
  if (!res.ok) throw new Error(`HTTP ${res.status} for ${source}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function loadModule(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return WebAssembly.compile(source);
  const url = source ?? new URL('../dist/pricelet_bg.wasm', import.meta.url);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status} for ${url}`);
  if (WebAssembly.compileStreaming && (res.headers.get('content-type') ?? '').startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(res);
  }
  return WebAssembly.compile(await res.arrayBuffer());
}

function watchStorage(key, onChange) {
  if (typeof window === 'undefined' || !window.addEventListener) return null;
  const handler = (e) => { if (e.key === key || e.key === null) onChange(); };
  window.addEventListener('storage', handler);
  return () => window.removeEventListener('storage', handler);
}

const BUNDLED_MODELS = {
  interest: () => new URL('../models/interest.onnx', import.meta.url),
  'interest-behaviour': () => new URL('../models/interest-behaviour.onnx', import.meta.url),
  uplift: () => new URL('../models/uplift.onnx', import.meta.url),
};

/** Gives the main thread back to the page between the steps of engine start (no long task). */
function yieldToPage() {
  if (globalThis.scheduler?.yield) return globalThis.scheduler.yield();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

const api = makeApi({
  engine,
  loadModule,
  readBytes,
  yieldToPage,
  // One literal `new URL(..., import.meta.url)` per bundled model: bundlers (Vite, webpack 5) resolve
  // only literals, and emit each file as an asset of the app.
  defaultModel: (name) => BUNDLED_MODELS[name]?.() ?? null,
  hasLocalStorage: () => { try { return typeof localStorage !== 'undefined' && localStorage !== null; } catch { return false; } },
  watchStorage,
  readLocal: (key) => { try { return localStorage.getItem(key); } catch { return null; } },
  lite,
});

export const { createPricer, listQuote, quoteBeforeReady, verifyQuote, validatePolicy, toCheckout, signQuote, tallyReports, mergeTallies, estimates, proposePolicy, policyRules, init, constants } = api;
