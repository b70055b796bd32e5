// `npm run size`: where the device engine's bytes are. Reads the names-kept wasm the build links
// (target/pricelet-build/device.wasm, before wasm-bindgen and wasm-opt strip the names), sums each
// function's code by the crate its mangled name belongs to, and prints the shipped sizes beside it.
// `--top N` lists the N largest functions; `--json` prints the attribution as JSON; `--wasm PATH`
// reads another names-kept module (e.g. the server's).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, sizes } from './build.mjs';
import { ROOT, log } from './setup.mjs';

function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  let pos = at;
  for (;;) {
    const b = bytes[pos];
    pos += 1;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [value, pos];
  }
}

function text(bytes, at) {
  const [len, start] = leb(bytes, at);
  return [new TextDecoder().decode(bytes.subarray(start, start + len)), start + len];
}

/** The module's functions: `{ name, size }` for every defined function (code body bytes). */
export function functions(bytes) {
  let pos = 8;
  let imported = 0;
  const bodies = [];
  const names = new Map();
  while (pos < bytes.length) {
    const id = bytes[pos];
    const [size, start] = leb(bytes, pos + 1);
    const end = start + size;
    if (id === 2) {
      // Imports: functions among them take the first indices.
      let [count, p] = leb(bytes, start);
      for (; count > 0; count -= 1) {
        [, p] = text(bytes, p);
        [, p] = text(bytes, p);
        const kind = bytes[p];
        p += 1;
        if (kind === 0) { [, p] = leb(bytes, p); imported += 1; } else if (kind === 1) { p += 1; const [flags, q] = leb(bytes, p); [, p] = leb(bytes, q); if (flags & 1) [, p] = leb(bytes, p); } else if (kind === 2) { const [flags, q] = leb(bytes, p); [, p] = leb(bytes, q); if (flags & 1) [, p] = leb(bytes, p); } else if (kind === 3) { p += 2; } else { p += 1; [, p] = leb(bytes, p); }
      }
    } else if (id === 10) {
      let [count, p] = leb(bytes, start);
      for (; count > 0; count -= 1) {
        const [body, q] = leb(bytes, p);
        bodies.push(body + (q - p));
        p = q + body;
      }
    } else if (id === 0) {
      const [name, p0] = text(bytes, start);
      if (name === 'name') {
        let p = p0;
        while (p < end) {
          const sub = bytes[p];
          const [len, q] = leb(bytes, p + 1);
          if (sub === 1) {
            let [count, r] = leb(bytes, q);
            for (; count > 0; count -= 1) {
              let index;
              let fname;
              [index, r] = leb(bytes, r);
              [fname, r] = text(bytes, r);
              names.set(index, fname);
            }
          }
          p = q + len;
        }
      }
    }
    pos = end;
  }
  return bodies.map((size, i) => ({ name: names.get(imported + i) ?? `func[${imported + i}]`, size }));
}

/** The crate a mangled Rust name belongs to: v0 (`_R…C<disambiguator><len><name>`) or legacy (`_ZN<len><name>…`). */
export function crateOf(name) {
  if (name.startsWith('_R')) {
    const m = /C(?:s[0-9A-Za-z]*_)?(\d+)([A-Za-z_][A-Za-z0-9_]*)/.exec(name);
    if (m) return m[2].slice(0, Number(m[1]));
  }
  if (name.startsWith('_ZN')) {
    let m = /^_ZN(\d+)(.*)$/.exec(name);
    if (m) {
      let part = m[2].slice(0, Number(m[1]));
      // `<T as Trait>` impls: the type's path comes first.
      if (part.startsWith('_$LT$')) {
        const inner = /^_\$LT\$([A-Za-z0-9_]+?)\.\.|^_\$LT\$([A-Za-z0-9_]+)/.exec(part);
        if (inner) part = inner[1] ?? inner[2];
      }
      return part.replace(/\$.*$/, '');
    }
  }
  if (name.startsWith('__wbg') || name.startsWith('__wbindgen') || name.includes('wasm_bindgen')) return 'wasm_bindgen';
  if (/^(memcpy|memset|memmove|memcmp|__rust|__rdl|__rg|__wasm|dlmalloc|rust_)/.test(name)) return 'std (runtime)';
  return '(other)';
}

export function attribution(bytes) {
  const fns = functions(bytes);
  const total = fns.reduce((a, f) => a + f.size, 0);
  const byCrate = new Map();
  for (const f of fns) {
    const c = crateOf(f.name);
    const e = byCrate.get(c) ?? { crate: c, bytes: 0, functions: 0 };
    e.bytes += f.size;
    e.functions += 1;
    byCrate.set(c, e);
  }
  const crates = [...byCrate.values()].sort((a, b) => b.bytes - a.bytes);
  return { total, functions: fns.length, crates, largest: [...fns].sort((a, b) => b.size - a.size) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const flag = (name, fallback) => { const i = args.indexOf(name); return i < 0 ? fallback : args[i + 1]; };
  try {
    const wasm = flag('--wasm', null);
    if (!wasm) build();
    const path = wasm ?? join(ROOT, 'target', 'pricelet-build', 'device.wasm');
    const a = attribution(readFileSync(path));
    if (args.includes('--json')) {
      console.log(JSON.stringify({ path, total: a.total, functions: a.functions, crates: a.crates, largest: a.largest.slice(0, Number(flag('--top', 40))) }, null, 2));
    } else {
      const shipped = sizes(join(ROOT, 'dist', 'pricelet_bg.wasm'));
      console.log(`shipped device engine dist/pricelet_bg.wasm: ${shipped.raw} B raw, ${shipped.gzip} B gzip, ${shipped.brotli} B brotli`);
      console.log(`code in ${path} (names kept, before wasm-opt): ${a.total} B in ${a.functions} functions`);
      console.log('crate                          bytes      share  functions');
      for (const c of a.crates.filter((x) => x.bytes / a.total >= 0.001)) {
        console.log(`${c.crate.padEnd(28)} ${String(c.bytes).padStart(9)}  ${(100 * c.bytes / a.total).toFixed(1).padStart(6)} %  ${String(c.functions).padStart(8)}`);
      }
      const top = Number(flag('--top', 20));
      console.log(`\nthe ${top} largest functions:`);
      for (const f of a.largest.slice(0, top)) console.log(`${String(f.size).padStart(8)}  ${crateOf(f.name).padEnd(16)} ${f.name.slice(0, 110)}`);
    }
  } catch (e) {
    log(e.message);
    process.exit(1);
  }
}
