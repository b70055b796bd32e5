// The code rules' check (scripts/code-rules.mjs) run on a small made-up tree: each rule must catch
// its breach and leave alone what only looks like one (test code, comments, strings, installed files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { breaches, MAX_LINES } from '../../scripts/code-rules.mjs';

function tree(files) {
  const root = mkdtempSync(join(tmpdir(), 'code-rules-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const lines = (n) => 'x();\n'.repeat(n);

test('each rule catches its breach and nothing else', (t) => {
  const root = tree({
    'src/wire/read.rs': 'use serde_json::Value;\npub fn read(v: &Value) {}\n',
    'src/pricer.rs': [
      '// a comment may say serde_json::Value',
      'pub fn price(v: &serde_json::Value) -> &str { "Value" }',
      '#[cfg(test)]',
      'mod tests { use serde_json::{Map, Value}; fn t(_: Value) {} }',
      '',
    ].join('\n'),
    'src/quote/tests.rs': 'use serde_json::Value;\n',
    'crates/a/src/lib.rs': [
      'pub fn bad() -> Result<u8, String> { Ok(1) }',
      'pub fn fine() -> Result<Vec<(u8, String)>, Error> { Ok(vec![]) }',
      'pub fn also_bad() -> std::result::Result<(), std::string::String> { Ok(()) }',
      '',
    ].join('\n'),
    'crates/a/tests/long.rs': lines(MAX_LINES + 1),
    'tests/js/at-limit.test.mjs': lines(MAX_LINES),
    'node_modules/dep/huge.js': lines(5000),
    'target/debug/build/out.rs': lines(5000),
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const found = breaches(root).sort();
  assert.equal(found.length, 4, found.join('\n'));
  assert.match(found[0], /^crates\/a\/src\/lib\.rs: `Result<\(\), std::string::String>`/);
  assert.match(found[1], /^crates\/a\/src\/lib\.rs: `Result<u8, String>`/);
  assert.match(found[2], new RegExp(`^crates/a/tests/long\\.rs: ${MAX_LINES + 1} lines`));
  assert.match(found[3], /^src\/pricer\.rs: 1 uses of serde_json's Value\/Map outside the wire layer/);
});

test('a clean tree passes', (t) => {
  const root = tree({ 'src/lib.rs': 'pub fn f() -> Result<u8, Error> { Ok(1) }\n', 'crates/a/src/lib.rs': '\n' });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.deepEqual(breaches(root), []);
});
