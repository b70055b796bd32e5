// The wasm size budget fails the build when a module grows past it (scripts/budget.json).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUDGET, checkBudget } from '../../scripts/budget.mjs';

test('a module over its budget throws, naming it; at the budget passes', () => {
  const at = { toolchain: 'nightly', engine: { gzip: BUDGET.engine.nightly }, lite: { gzip: BUDGET.lite.nightly } };
  assert.equal(checkBudget(at).length, 2);
  assert.throws(() => checkBudget({ ...at, engine: { gzip: BUDGET.engine.nightly + 1 } }), /engine: .* over|over its size budget — engine/);
  assert.throws(() => checkBudget({ ...at, lite: { gzip: BUDGET.lite.nightly + 1 } }), /lite/);
  assert.throws(() => checkBudget({ ...at, toolchain: 'beta' }), /no engine budget for the beta toolchain/);
  assert.throws(() => checkBudget({ toolchain: 'stable', engine: {} }), /no engine.gzip size/);
});
