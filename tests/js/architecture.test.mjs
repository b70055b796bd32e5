// The architecture of docs/architecture.md, held by checks that can fail: the crates' dependency
// rules (cargo metadata), and a browser engine that ships device code only (its wasm's exports).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/setup.mjs';
import { metadata, violations } from '../../scripts/architecture.mjs';

const SERVER_EXPORTS = ['estimates', 'tallyReports', 'signQuote', 'wasmpricer_priceFromFeatures'];

test('the crates keep the dependency rules; a core that reached tract or wasm-bindgen would fail', () => {
  const meta = metadata();
  assert.deepEqual(violations(meta), []);
  // The same check on a doctored graph: the core given tract and wasm-bindgen, measure given the lab,
  // the scorer given a tract framework that links the NNEF serializer and an FFT.
  const doctored = structuredClone(meta);
  const id = (name) => doctored.packages.find((p) => p.name === name).id;
  const node = (name) => doctored.resolve.nodes.find((n) => n.id === id(name));
  const normal = [{ kind: null, target: null }];
  node('pricelet').deps.push({ name: 'tract_core', pkg: id('tract-core'), dep_kinds: normal });
  node('pricelet').deps.push({ name: 'wasm_bindgen', pkg: id('wasm-bindgen'), dep_kinds: normal });
  node('pricelet-measure').deps.push({ name: 'pricelet_lab', pkg: id('pricelet-lab'), dep_kinds: normal });
  // tract-onnx is no longer in the graph: stand in a package with its name for the scorer's rule.
  const framework = { ...doctored.packages.find((p) => p.name === 'tract-core'), name: 'tract-nnef', id: 'tract-nnef-fake' };
  doctored.packages.push(framework);
  doctored.resolve.nodes.push({ id: framework.id, deps: [] });
  node('pricelet-onnx').deps.push({ name: 'tract_nnef', pkg: framework.id, dep_kinds: normal });
  const found = violations(doctored);
  assert.ok(found.some((v) => /^pricelet-onnx (reaches|depends on) tract-nnef/.test(v)), found.join('\n'));
  assert.ok(found.some((v) => /^pricelet reaches tract-core/.test(v)), found.join('\n'));
  assert.ok(found.some((v) => /^pricelet reaches wasm-bindgen/.test(v)), found.join('\n'));
  assert.ok(found.some((v) => /^pricelet-measure depends on pricelet-lab/.test(v)), found.join('\n'));
});

test('the browser engine exports no server-side function; the server engine adds them', () => {
  const exports = (file) => WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(join(ROOT, 'dist', file)))).map((e) => e.name);
  const device = exports('pricelet_bg.wasm');
  const server = exports('pricelet_server_bg.wasm');
  for (const name of SERVER_EXPORTS) {
    assert.ok(!device.includes(name), `the browser wasm must not export ${name}`);
    assert.ok(server.includes(name), `the server wasm exports ${name}`);
  }
  for (const name of ['wasmpricer_priceFor', 'verifyQuote', 'toCheckout', 'constants']) assert.ok(device.includes(name), name);
  const glue = readFileSync(join(ROOT, 'dist', 'pricelet.js'), 'utf8');
  assert.doesNotMatch(glue, /export function (estimates|tallyReports|signQuote)\b/, 'nor does its glue');
});
