// The wasm size budget fails the build when a module grows past it (scripts/budget.json).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUDGET, checkBudget } from '../../scripts/budget.mjs';

test('a module over its budget throws, naming it; at the budget passes', () => {
  const at = { toolchain: 'nightly', device: { gzip: BUDGET.device.nightly }, server: { gzip: BUDGET.server.nightly }, lite: { gzip: BUDGET.lite.nightly } };
  assert.equal(checkBudget(at).length, 3);
  assert.throws(() => checkBudget({ ...at, device: { gzip: BUDGET.device.nightly + 1 } }), /over its size budget — device/);
  assert.throws(() => checkBudget({ ...at, server: { gzip: BUDGET.server.nightly + 1 } }), /server/);
  assert.throws(() => checkBudget({ ...at, lite: { gzip: BUDGET.lite.nightly + 1 } }), /lite/);
  assert.throws(() => checkBudget({ ...at, toolchain: 'beta' }), /no device budget for the beta toolchain/);
  assert.throws(() => checkBudget({ toolchain: 'stable', device: {} }), /no device.gzip size/);
});
