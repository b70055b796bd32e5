// pricelet's edge Worker: prices derived model inputs a consenting device sends (edge mode), signs
// every quote, verifies quotes at checkout, collects local-DP measurement reports, runs the learning
// loop's proposer, and serves the storefront and the current policy. It is a client of the pricelet
// package like any user's code. It logs nothing, stores nothing about a request to /price or
// /verify, and of /report keeps only running tallies (sums of already randomized values) in K
// shard Durable Objects per base policy. The policy store keeps the served policy and the loop's
// audit log. One file per concern: http.js, secrets.js, policies.js, pricing.js, reports.js, loop.js,
// console.js (the merchant console's page, built from worker/console/).
import { HttpError, json } from './http.js';
import { consoleFile } from './console.js';
import { getPolicy, policyLog, policyStatus, propose, runProposer, switchTo } from './loop.js';
import { health, price, verify } from './pricing.js';
import { readEstimates, report } from './reports.js';

export { PolicyStore } from './loop.js';
export { ReportTally } from './reports.js';

const ROUTES = {
  '/price': price, '/verify': verify, '/health': health, '/report': report, '/estimates': readEstimates,
  '/policy': getPolicy, '/policy/status': policyStatus, '/policy/propose': propose, '/policy/log': policyLog, '/policy/stop': switchTo('stop'), '/policy/resume': switchTo('resume'),
  '/console': consoleFile,
};

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const route = ROUTES[pathname] ?? (pathname.startsWith('/console/') ? consoleFile : undefined);
    try {
      if (route) return await route(request, env);
      if (env.ASSETS) return await env.ASSETS.fetch(request);
      throw new HttpError(404, 'not_found', `no such endpoint: ${Object.keys(ROUTES).join(', ')}`);
    } catch (e) {
      if (e instanceof HttpError) return json(e.status, { code: e.code, message: e.message }, e.headers);
      // Never a stack trace: the engine resets itself after a trap; the caller may retry.
      return json(500, { code: 'internal', message: 'the Worker could not complete this request; retry it' });
    }
  },

  /** The Cron Trigger runs the proposer like POST /policy/propose; a policy without `learning` has no loop to run. */
  async scheduled(controller, env) {
    try {
      await runProposer(env, 'cron');
    } catch (e) {
      if (e instanceof HttpError && e.code === 'learning_off') return;
      throw e;
    }
  },
};
