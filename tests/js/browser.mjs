// Headless Debian Chromium through playwright-core, with launch flags that keep it offline: a fresh
// profile, no background networking, and every host but 127.0.0.1 unresolvable.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ensureChromium } from '../../scripts/setup.mjs';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

/** Launches a persistent context in a fresh profile; `close()` removes it. */
export async function launch(options = {}) {
  const executablePath = ensureChromium();
  const dir = mkdtempSync(join(tmpdir(), 'pricelet-chromium-'));
  process.env.XDG_CONFIG_HOME = join(dir, 'config');
  process.env.XDG_CACHE_HOME = join(dir, 'cache');
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath, headless: true, args: CHROMIUM_ARGS, ...options,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
