// `npm run fuzz`: every fuzz target (fuzz/fuzz_targets/) under cargo-fuzz/libFuzzer on nightly, for
// FUZZ_RUNS executions each (default 1,000,000), starting from the committed corpus. New inputs go to
// a scratch folder (the committed corpus stays small); a crash stops with the reproducer's path.
// Not part of `npm test` — the corpus is replayed there by `cargo test` (tests/fuzz_corpus.rs).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, log, output, run } from './setup.mjs';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000_000);
const only = process.argv.slice(2);

if (!/^nightly-/m.test(output('rustup', ['toolchain', 'list']) ?? '')) {
  log('installing the nightly toolchain (cargo-fuzz needs it) ...');
  run('rustup', ['toolchain', 'install', 'nightly', '--profile', 'minimal']);
}
if (output('cargo', ['+nightly', 'fuzz', '--version']) === null) {
  log('installing cargo-fuzz (cargo install, once) ...');
  run('cargo', ['install', 'cargo-fuzz', '--locked']);
}

const targets = readdirSync(join(ROOT, 'fuzz', 'fuzz_targets')).map((f) => f.replace(/\.rs$/, '')).filter((t) => !only.length || only.includes(t)).sort();
const results = [];
for (const target of targets) {
  const scratch = mkdtempSync(join(tmpdir(), `pricelet-fuzz-${target}-`));
  const t0 = Date.now();
  const r = spawnSync('cargo', ['+nightly', 'fuzz', 'run', '--release', target, scratch, join('corpus', target), '--',
    `-runs=${RUNS}`, '-max_len=65536', '-timeout=10', '-rss_limit_mb=2048', '-print_final_stats=1'],
  { cwd: join(ROOT, 'fuzz'), encoding: 'utf8', maxBuffer: 1 << 28 });
  rmSync(scratch, { recursive: true, force: true });
  const text = `${r.stdout}\n${r.stderr}`;
  const execs = Number(text.match(/stat::number_of_executed_units:\s+(\d+)/)?.[1] ?? text.match(/Done (\d+) runs/)?.[1] ?? 0);
  const crash = text.match(/Test unit written to (\S+)/)?.[1] ?? null;
  results.push({ target, execs, seconds: (Date.now() - t0) / 1000, crash, status: r.status });
  log(`${target}: ${execs} executions in ${((Date.now() - t0) / 1000).toFixed(0)} s${crash ? `, CRASH ${crash}` : ''}`);
  if (r.status !== 0) {
    process.stderr.write(text.slice(-4000));
    process.exitCode = 1;
    break;
  }
}
console.log('\n| target | executions | seconds | crashes |\n|---|---:|---:|---|');
for (const x of results) console.log(`| ${x.target} | ${x.execs} | ${x.seconds.toFixed(0)} | ${x.crash ?? 'none'} |`);
