// The dependency rules of docs/architecture.md, checked on `cargo metadata`: which workspace crate
// may depend on which, and which outside crates the core must never reach (not even transitively).
// `node scripts/architecture.mjs` prints the violations and exits 1 if there is one.
import { execFileSync } from 'node:child_process';
import { ROOT } from './setup.mjs';

/** Workspace crates each crate may depend on (normal dependencies). */
export const ALLOWED = {
  pricelet: [],
  'pricelet-onnx': ['pricelet'],
  'pricelet-measure': ['pricelet'],
  'pricelet-wasm': ['pricelet', 'pricelet-onnx', 'pricelet-measure'],
  'pricelet-lab': ['pricelet', 'pricelet-onnx', 'pricelet-measure'],
  'pricelet-cli': ['pricelet', 'pricelet-onnx', 'pricelet-measure', 'pricelet-lab'],
  'pricelet-harness': ['pricelet', 'pricelet-onnx', 'pricelet-measure'],
  // Tests only: everything it uses is a dev-dependency.
  'pricelet-e2e': [],
};

/** Outside crates a workspace crate must not reach through normal dependencies, at any depth. */
export const FORBIDDEN = {
  pricelet: [/^tract-/, /^wasm-bindgen/, /^js-sys$/, /^web-sys$/, /^getrandom$/, /^clap$/, /^csv$/],
  'pricelet-measure': [/^tract-/, /^wasm-bindgen/, /^js-sys$/, /^web-sys$/, /^clap$/, /^csv$/],
  // tract-core only: tract-onnx would link the NNEF framework (and rustfft) into the device wasm.
  'pricelet-onnx': [/^web-sys$/, /^clap$/, /^csv$/, /^tract-(onnx|onnx-opl|hir|nnef|extra)$/],
};

export function metadata() {
  return JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--locked'], { cwd: ROOT, maxBuffer: 64 << 20 }).toString());
}

/** The violations of the rules in `meta` (cargo metadata's JSON), as sentences. */
export function violations(meta) {
  const byId = new Map(meta.packages.map((p) => [p.id, p]));
  const nodes = new Map(meta.resolve.nodes.map((n) => [n.id, n]));
  const members = new Set(meta.workspace_members);
  const normal = (dep) => dep.dep_kinds.some((k) => k.kind === null);
  const out = [];
  for (const id of members) {
    const name = byId.get(id).name;
    const allowed = ALLOWED[name];
    if (!allowed) {
      out.push(`${name} is a workspace crate docs/architecture.md does not list`);
      continue;
    }
    for (const dep of nodes.get(id).deps.filter(normal)) {
      if (members.has(dep.pkg) && !allowed.includes(byId.get(dep.pkg).name)) {
        out.push(`${name} depends on ${byId.get(dep.pkg).name}, which docs/architecture.md does not allow`);
      }
    }
    // Everything reachable through normal dependencies (any target: wasm32 included).
    const seen = new Set();
    const stack = [id];
    while (stack.length) {
      for (const dep of nodes.get(stack.pop()).deps.filter(normal)) {
        if (!seen.has(dep.pkg)) {
          seen.add(dep.pkg);
          stack.push(dep.pkg);
        }
      }
    }
    for (const pattern of FORBIDDEN[name] ?? []) {
      for (const dep of seen) {
        if (pattern.test(byId.get(dep).name)) out.push(`${name} reaches ${byId.get(dep).name}, which it must not (${pattern})`);
      }
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = violations(metadata());
  for (const v of found) console.error(`architecture: ${v}`);
  if (found.length) process.exit(1);
  console.error('architecture: the crates keep the dependency rules of docs/architecture.md');
}
