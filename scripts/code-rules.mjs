// The code's own rules, checked on the source text (docs/architecture.md "Code rules"):
// 1. JSON stays in the wire layer: no `serde_json::Value` (or `Map`) in the core crate outside
//    src/wire/, test code aside.
// 2. Errors are typed: no `Result<_, String>` in src/ or crates/*/src.
// 3. One concern per file: no source file over 600 lines (Rust and JS of the package, the Worker
//    and the storefront).
// `node scripts/code-rules.mjs` prints each breach and exits 1 if there is one. `PENDING` names what
// an open change still has to move; a pending file may shrink, never grow, and no new file may join.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './setup.mjs';

export const MAX_LINES = 600;

/** Files still waiting for the typed-core work, with what they hold today (never more). */
export const PENDING = {
  json: {},
  lines: {
  },
};

/** Folders of installed, built or generated files (and git's own), never the project's source. */
const SKIPPED = new Set(['node_modules', 'target', 'dist', '.git', '.tools', '.venv', '.wrangler', 'test-output', 'results', 'artifacts', 'coverage']);

function files(dir, exts) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (SKIPPED.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(files(path, exts));
    else if (exts.some((e) => name.endsWith(e))) out.push(path);
  }
  return out;
}

/** Rust source without comments, string contents and `#[cfg(test)]` items (their braces matched). */
export function productionRust(text) {
  // Comments and string literals out first, so braces and words inside them do not count.
  let code = '';
  for (let i = 0; i < text.length; i++) {
    if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
      code += '\n';
    } else if (text.startsWith('r#"', i)) {
      const end = text.indexOf('"#', i + 3);
      i = end < 0 ? text.length : end + 1;
      code += '""';
    } else if (text[i] === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      code += '""';
    } else if (text[i] === "'" && /^'(\\.|[^\\'])'/.test(text.slice(i, i + 4))) {
      i += text[i + 1] === '\\' ? 3 : 2;
      code += "' '";
    } else code += text[i];
  }
  let out = '';
  let i = 0;
  for (;;) {
    const at = code.indexOf('#[cfg(test)]', i);
    if (at < 0) return out + code.slice(i);
    out += code.slice(i, at);
    const open = code.indexOf('{', at);
    const semi = code.indexOf(';', at);
    if (open < 0 || (semi >= 0 && semi < open)) {
      i = semi < 0 ? code.length : semi + 1; // `#[cfg(test)] mod tests;` or a `use`
      continue;
    }
    let depth = 0;
    let j = open;
    for (; j < code.length; j++) {
      if (code[j] === '{') depth++;
      else if (code[j] === '}' && --depth === 0) break;
    }
    i = j + 1;
  }
}

/** How often a production Rust text names a JSON tree (`Value`/`Map` from serde_json). */
export function jsonUses(text) {
  const code = productionRust(text);
  const qualified = (code.match(/serde_json::(value::)?(Value|Map)\b/g) ?? []).length;
  // Bare names too (imported directly or through `use super::*`); not a path's tail such as
  // `Payload::Value`, nor an enum variant's definition `Value(usize)`.
  const bare = (code.match(/(?<![\w:])(Value|Map)\b(?!\s*\()/g) ?? []).length;
  return qualified + bare;
}

/** `Result<…, String>` written anywhere in production Rust, as the text of each. */
export function stringErrors(text) {
  const code = productionRust(text);
  const found = [];
  for (const m of code.matchAll(/\bResult\s*</g)) {
    let depth = 0;
    let lastComma = -1;
    let j = m.index + m[0].length - 1;
    for (; j < code.length; j++) {
      const c = code[j];
      if (c === '<' || c === '(' || c === '[') depth++;
      else if (c === '>' || c === ')' || c === ']') {
        if (--depth === 0) break;
      } else if (c === ',' && depth === 1) lastComma = j;
    }
    if (lastComma > 0 && /^\s*(std::string::)?String\s*$/.test(code.slice(lastComma + 1, j))) {
      found.push(code.slice(m.index, j + 1).replace(/\s+/g, ' '));
    }
  }
  return found;
}

export function breaches(root = ROOT) {
  const out = [];
  const rel = (p) => relative(root, p).split('\\').join('/');
  for (const path of files(join(root, 'src'), ['.rs'])) {
    const name = rel(path);
    if (name.startsWith('src/wire/') || name.endsWith('/tests.rs')) continue;
    const n = jsonUses(readFileSync(path, 'utf8'));
    const allowed = PENDING.json[name] ?? 0;
    if (n > allowed) {
      out.push(`${name}: ${n} uses of serde_json's Value/Map outside the wire layer${allowed ? ` (was ${allowed})` : ''}: read and write JSON in src/wire/, pass typed values to the core`);
    }
  }
  const crateSources = readdirSync(join(root, 'crates')).map((c) => join(root, 'crates', c, 'src'));
  for (const path of [join(root, 'src'), ...crateSources].flatMap((d) => files(d, ['.rs']))) {
    for (const r of stringErrors(readFileSync(path, 'utf8'))) {
      out.push(`${rel(path)}: \`${r}\`: give the error a type (a thiserror enum) instead of a String`);
    }
  }
  // Every source file the project writes: production, tests, fuzz targets, benchmarks, scripts.
  const sources = files(root, ['.rs', '.js', '.mjs', '.ts']);
  for (const path of sources) {
    const name = rel(path);
    const lines = readFileSync(path, 'utf8').split('\n').length - 1;
    const allowed = Math.max(MAX_LINES, PENDING.lines[name] ?? 0);
    if (lines > allowed) {
      out.push(`${name}: ${lines} lines, over ${allowed}: split it by concern`);
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = breaches();
  for (const b of found) console.error(`code rules: ${b}`);
  if (found.length) process.exit(1);
  console.log('code rules: JSON only in src/wire/, no Result<_, String>, no source file over 600 lines (pending: ' + Object.keys(PENDING.json).length + ' JSON files, ' + Object.keys(PENDING.lines).length + ' long files)');
}
