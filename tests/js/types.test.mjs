// No value mirrored by hand between Rust and JS: the TypeScript unions of js/index.d.ts, the
// wrapper's consent list and storage key are the engine's own constants (read from the wasm).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/setup.mjs';
import { constants, init } from '../../js/node.js';
import { WRAPPER_ERROR_CODES } from '../../js/core.js';

const DTS = readFileSync(join(ROOT, 'js', 'index.d.ts'), 'utf8');

/** The string literals of `export type NAME = ...;` in index.d.ts. */
function union(name) {
  const m = DTS.match(new RegExp(`export type ${name} =([^;]*);`));
  assert.ok(m, `index.d.ts declares ${name}`);
  return [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]).sort();
}

test('every union in index.d.ts equals the engine\'s list', async () => {
  await init();
  const c = constants();
  const sorted = (list) => [...list].sort();
  assert.deepEqual(union('QuoteReason'), sorted(c.reasons));
  assert.deepEqual(union('Consent'), sorted(c.consents));
  assert.deepEqual(union('EngineErrorCode'), sorted(c.errorCodes));
  assert.deepEqual(union('WrapperErrorCode'), sorted(WRAPPER_ERROR_CODES));
  assert.deepEqual(union('ProblemCode'), sorted(c.problemCodes));
  assert.deepEqual(union('ReportRefusal'), sorted(c.reportRefusals));
  assert.deepEqual(union('NotStored'), sorted(c.notStored));
  assert.deepEqual(union('LoadOutcome'), sorted(c.loadOutcomes));
  const variant = DTS.match(/variant: ('[^;]+');/)[1];
  assert.deepEqual([...variant.matchAll(/'([^']+)'/g)].map((x) => x[1]).sort(), sorted(c.variants));
  assert.equal(c.storageKey, 'pricelet:behaviour', 'the documented default storage key');
});

test('no hand-kept copy of an engine constant is left in the wrapper or the Worker', () => {
  const wrapper = readdirSync(join(ROOT, 'js')).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(ROOT, 'js', f), 'utf8')).join('\n');
  assert.doesNotMatch(wrapper, /'granted', 'denied', 'unknown'/, 'consents come from the engine');
  assert.doesNotMatch(wrapper, /pricelet:behaviour/, 'the storage key comes from the engine');
  const dir = join(ROOT, 'worker', 'src');
  const worker = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
  assert.doesNotMatch(worker, /MAX_ITEMS = \d+/, 'the Worker\'s batch limit comes from the engine');
});
