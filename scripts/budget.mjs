// The wasm size budget: a failing check, not a log line. The numbers live in scripts/budget.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './setup.mjs';

export const BUDGET = JSON.parse(readFileSync(join(ROOT, 'scripts', 'budget.json'), 'utf8'));

/**
 * Checks `info` (dist/build-info.json: { toolchain, device, server, lite: { gzip } }) against the
 * budget; returns one line per module and throws when a module is over its budget.
 */
export function checkBudget(info, budget = BUDGET) {
  const lines = [];
  const over = [];
  for (const module of ['device', 'server', 'lite']) {
    const limit = budget[module]?.[info.toolchain];
    if (!Number.isInteger(limit)) throw new Error(`scripts/budget.json has no ${module} budget for the ${info.toolchain} toolchain`);
    const size = info[module]?.gzip;
    if (!Number.isInteger(size)) throw new Error(`dist/build-info.json has no ${module}.gzip size: rebuild with npm run build`);
    const line = `${module}: ${size} B gzip, budget ${limit} B (${info.toolchain})`;
    lines.push(line);
    if (size > limit) over.push(line);
  }
  if (over.length) {
    throw new Error(`wasm over its size budget — ${over.join('; ')}. Find what grew (twiggy, or the build log), or raise the budget in scripts/budget.json with the reason in the commit.`);
  }
  return lines;
}
