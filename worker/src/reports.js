// Measurement reports: /report folds a device's local-DP reports into a tally, /estimates reads the
// de-biased result. Reports are dropped as soon as they are counted: only running tallies (sums of
// already randomized values) are kept, in K shard Durable Objects per base policy, one tally per
// collection round (the reports received between two runs of the learning loop's proposer).
import { DurableObject } from 'cloudflare:workers';
import { constants, estimates, mergeTallies, policyRules, tallyReports } from 'pricelet';
import { HttpError, allow, failure, json, readText, unwrap } from './http.js';
import { servedPolicy } from './policies.js';
import { bearerIs } from './secrets.js';

const MAX_SHARDS = 64;
// The engine is ready at import in workerd: its constants are read once. (/price has the same
// limit, enforced by the engine.)
const { maxEdgeItems: MAX_EDGE_ITEMS } = constants();
const ROUND_PREFIX = 'round:';
const roundKey = (round) => `${ROUND_PREFIX}${String(round).padStart(12, '0')}`;

/** One shard of the tallies of one base policy's reports, a tally per collection round. */
export class ReportTally extends DurableObject {
  /**
   * Adds `reports` (JSON text: a deeply nested body stays a string across the RPC boundary and is
   * refused by the engine with a code) to round `round`'s tally; `{ accepted }` or `{ error }`.
   */
  async add(reportsText, policy, round) {
    // One read-modify-write at a time, so concurrent batches never lose each other's counts.
    return this.ctx.blockConcurrencyWhile(async () => {
      const key = roundKey(round);
      let next;
      try {
        next = await tallyReports(JSON.parse(reportsText), (await this.ctx.storage.get(key)) ?? null, { policy });
      } catch (e) {
        if (typeof e?.code === 'string') return failure(e.code, e.message);
        if (e instanceof SyntaxError || e instanceof RangeError) return failure('invalid_report', 'the reports could not be read: send the reports pricer.report() made');
        throw e;
      }
      await this.ctx.storage.put(key, next);
      return { accepted: true };
    });
  }

  /** Every round's tally, `[{ round, tally }]` (a tally written before rounds existed is round 0). */
  async rounds() {
    const out = [];
    const legacy = await this.ctx.storage.get('tally');
    if (legacy) out.push({ round: 0, tally: legacy });
    for (const [key, tally] of await this.ctx.storage.list({ prefix: ROUND_PREFIX })) {
      out.push({ round: Number(key.slice(ROUND_PREFIX.length)), tally });
    }
    return out;
  }
}

export function shardCount(env) {
  const k = Number(env.PRICELET_TALLY_SHARDS ?? 1);
  if (!Number.isInteger(k) || k < 1 || k > MAX_SHARDS) {
    throw new HttpError(503, 'shards_invalid', `PRICELET_TALLY_SHARDS must be a whole number from 1 to ${MAX_SHARDS} (default 1): fix the var and deploy again`);
  }
  return k;
}

/**
 * The shards of the current reporting setup. All loop versions of a base policy report in the same
 * domain, so they share its tally; shard 0 keeps the name of the single tally (`tally:<version>`).
 */
function shards(env, current) {
  if (!env.REPORTS) throw new HttpError(503, 'reports_unavailable', 'this Worker has no REPORTS Durable Object binding (see worker/wrangler.jsonc)');
  if (!current.policy.reporting) throw new HttpError(409, 'reporting_off', `policy ${current.policy.version} has no "reporting" section: devices make no reports under it`);
  return Array.from({ length: shardCount(env) }, (_, k) => env.REPORTS.get(env.REPORTS.idFromName(k === 0 ? `tally:${current.baseVersion}` : `tally:${current.baseVersion}:${k}`)));
}

/**
 * The tally of each collection round up to `lastRound` (all when omitted), every shard merged
 * (sums merge exactly), oldest first: `[{ round, tally }]`.
 */
export async function roundTallies(env, current, lastRound = Infinity) {
  const byRound = new Map();
  for (const list of await Promise.all(shards(env, current).map((s) => s.rounds()))) {
    for (const { round, tally } of list) {
      if (round > lastRound) continue;
      if (!byRound.has(round)) byRound.set(round, []);
      byRound.get(round).push(tally);
    }
  }
  const rounds = [...byRound.keys()].sort((a, b) => a - b);
  return Promise.all(rounds.map(async (round) => ({ round, tally: await mergeTallies(byRound.get(round), { policy: current.policy }) })));
}

/** Every report of the current base policy in one tally, or null before any report. */
export async function mergedTally(env, current) {
  const rounds = await roundTallies(env, current);
  if (rounds.length === 0) return null;
  return mergeTallies(rounds.map((r) => r.tally), { policy: current.policy });
}

/** Per-client limits: the connecting IP is only the rate limiter's key, for its period; never kept here. */
async function limitClient(request, env) {
  if (!env.REPORT_LIMIT) return;
  const { success } = await env.REPORT_LIMIT.limit({ key: request.headers.get('cf-connecting-ip') ?? 'unknown' });
  if (!success) {
    throw new HttpError(429, 'rate_limited', 'too many report requests from this client: a device sends a few reports a day; retry in a minute', { 'retry-after': '60' });
  }
}

/** The storefront origins that may send reports: the Worker's own, and PRICELET_REPORT_ORIGINS. */
function reportOrigins(request, env) {
  const listed = String(env.PRICELET_REPORT_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return new Set([new URL(request.url).origin, ...listed]);
}

/** CORS headers for an allowed storefront on another origin (none for the Worker's own). */
function corsHeaders(request, env) {
  const origin = request.headers.get('origin');
  if (origin === null || origin === new URL(request.url).origin || !reportOrigins(request, env).has(origin)) return {};
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}

/**
 * Reports come from the storefront's own pages. Another site could otherwise make its visitors'
 * browsers send fake reports from their addresses, past the per-IP limit: a browser request names
 * its page (`Origin`, `Sec-Fetch-Site`), and only JSON is accepted — a type no site may send to
 * another origin without asking first (a CORS preflight, which only listed origins pass).
 */
function checkReportSource(request, env) {
  const origin = request.headers.get('origin');
  const site = request.headers.get('sec-fetch-site');
  const crossSite = origin !== null ? !reportOrigins(request, env).has(origin) : site !== null && !['same-origin', 'none'].includes(site);
  if (crossSite) {
    throw new HttpError(403, 'cross_site_report', `reports are accepted from the storefront's own pages only (Origin ${origin ?? site}); list other storefront origins in PRICELET_REPORT_ORIGINS`);
  }
  const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, 'unsupported_media_type', 'send reports as Content-Type: application/json (with navigator.sendBeacon, a Blob of type application/json)');
  }
}

/** The CORS preflight of a listed storefront origin. */
function preflight(request, env) {
  const cors = corsHeaders(request, env);
  if (!cors['access-control-allow-origin']) {
    throw new HttpError(403, 'cross_site_report', 'this origin may not send reports; list it in PRICELET_REPORT_ORIGINS');
  }
  return new Response(null, { status: 204, headers: { ...cors, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '86400' } });
}

export async function report(request, env) {
  if (request.method === 'OPTIONS') return preflight(request, env);
  allow(request, 'POST');
  checkReportSource(request, env);
  const cors = corsHeaders(request, env);
  await limitClient(request, env);
  const text = await readText(request);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body must be JSON (UTF-8)');
  }
  if (body === null || typeof body !== 'object' || !Array.isArray(body.reports) || body.reports.length === 0) {
    throw new HttpError(400, 'invalid_request', 'send { reports: [...] }: the reports pricer.report() returned (at least one)');
  }
  if (body.reports.length > MAX_EDGE_ITEMS) throw new HttpError(400, 'limit_exceeded', `at most ${MAX_EDGE_ITEMS} reports per request`);
  const current = await servedPolicy(env);
  const all = shards(env, current);
  // A device's daily ε budget allows at most this many reports a day: a bigger batch is not one device's.
  const perDevice = (await policyRules(current.policy)).reportsPerDevicePerDay;
  if (body.reports.length > perDevice) {
    throw new HttpError(429, 'too_many_reports', `a device makes at most ${perDevice} reports a day under policy ${current.policy.version} (reporting.dailyEpsilon / reporting.epsilon): send at most ${perDevice} per request, one device's at a time`, { 'retry-after': '86400', ...cors });
  }
  // A random shard per batch spreads the writes; /estimates and the proposer merge them all. The
  // reports cross to the shard as text (see ReportTally.add).
  const k = crypto.getRandomValues(new Uint32Array(1))[0] % all.length;
  unwrap(await all[k].add(JSON.stringify(body.reports), current.policy, current.round));
  // No running total: how many reports a shop receives is the merchant's business (/estimates).
  return json(202, { accepted: body.reports.length, shard: k }, cors);
}

export async function readEstimates(request, env) {
  allow(request, 'GET');
  const token = env.PRICELET_ESTIMATES_TOKEN;
  // The admin token reads everything the merchant console shows, the estimates too.
  const admin = env.PRICELET_ADMIN_TOKEN;
  if (token && !(await bearerIs(request, token)) && !(typeof admin === 'string' && admin.length >= 16 && (await bearerIs(request, admin)))) {
    throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <PRICELET_ESTIMATES_TOKEN>', { 'www-authenticate': 'Bearer' });
  }
  const current = await servedPolicy(env);
  const tally = await mergedTally(env, current);
  if (!tally || tally.n === 0) throw new HttpError(404, 'no_reports', 'no reports yet for the current policy');
  return json(200, await estimates(tally, { policy: current.policy }), { 'pricelet-tally-shards': String(shardCount(env)) });
}
