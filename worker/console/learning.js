// What the loop learned, from GET /policy/log: β̂ with its 95 % interval at every proposer run (a
// uPlot chart, with the same figures as a table and a sentence), the β in use, the guardrail band,
// and each decision with its reason.
import uPlot from 'uplot';
import { figure, fill, h, note, table } from './dom.js';
import { beta, betaCI, count, time } from './format.js';

const RUNS = new Set(['hold', 'propose', 'retreat', 'stopped']);
const COLORS = { estimate: '#1d4ed8', band: 'rgba(29, 78, 216, 0.14)', used: '#b45309', guard: '#6b7280' };

/**
 * The proposer's runs in order, each with the β in use after it. The β in use follows every entry
 * that changes the served policy (start, propose, retreat, stop, new_base).
 */
export function runsOf(log) {
  let used = null;
  const runs = [];
  for (const e of log) {
    if (e.policy?.strategy && typeof e.policy.strategy.beta === 'number') used = e.policy.strategy.beta;
    if (RUNS.has(e.action) && e.evidence) runs.push({ n: runs.length + 1, entry: e, used: e.action === 'stopped' ? used : e.betaAfter ?? used });
  }
  return runs;
}

/** Why the loop holds, in reports: "hold: 12,400 of ~100,000 reports needed". */
function holdNeeds(entry, learning) {
  const ev = entry.evidence;
  if (!learning) return null;
  if (ev.reports < learning.minReports) return { have: ev.reports, need: learning.minReports, why: 'learning.minReports' };
  const b = ev.beta;
  const width = b ? b.hi - b.lo : null;
  if (width !== null && width > learning.maxIntervalWidth) {
    // The interval narrows as 1/√n: n·(width / maxIntervalWidth)² reports make it narrow enough.
    return { have: ev.reports, need: Math.ceil(ev.reports * (width / learning.maxIntervalWidth) ** 2), why: `an interval narrower than learning.maxIntervalWidth = ${learning.maxIntervalWidth}` };
  }
  return null;
}

function summary(runs, learning, served) {
  const last = runs.at(-1);
  const changes = runs.filter((r) => r.entry.action === 'propose' || r.entry.action === 'retreat').length;
  const b = last.entry.evidence.beta;
  return `${runs.length} proposer run${runs.length === 1 ? '' : 's'}; the latest: ${last.entry.action}, β̂ = ${betaCI(b)} from ${count(last.entry.evidence.reports)} reports. ` +
    `β in use ${beta(served)}, changed ${changes} time${changes === 1 ? '' : 's'}; guardrails [${learning.betaMin}, ${learning.betaMax}], at most ${learning.maxBetaStep} per change.`;
}

let chart = null;
let resize = null;

function drawChart(container, runs, learning) {
  chart?.destroy();
  resize?.disconnect();
  const xs = runs.map((r) => r.n);
  const b = runs.map((r) => r.entry.evidence.beta);
  const data = [xs, b.map((x) => x?.estimate ?? null), b.map((x) => x?.lo ?? null), b.map((x) => x?.hi ?? null),
    runs.map((r) => r.used), xs.map(() => learning.betaMin), xs.map(() => learning.betaMax)];
  const width = () => Math.max(240, container.clientWidth);
  const opts = {
    width: width(), height: 260, legend: { show: false }, cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false, range: [0.5, Math.max(1, xs.length) + 0.5] } },
    axes: [{ label: 'proposer run', incrs: [1, 2, 5, 10, 20, 50], values: (u, splits) => splits.map((s) => (Number.isInteger(s) ? String(s) : '')) }, { label: 'β' }],
    series: [
      {},
      { label: 'β̂', stroke: COLORS.estimate, width: 2, points: { show: true, size: 7 } },
      { label: '95 % low', stroke: COLORS.estimate, width: 1, dash: [4, 4] },
      { label: '95 % high', stroke: COLORS.estimate, width: 1, dash: [4, 4] },
      { label: 'β in use', stroke: COLORS.used, width: 2, paths: uPlot.paths.stepped({ align: 1 }) },
      { label: 'betaMin', stroke: COLORS.guard, width: 1, dash: [2, 6] },
      { label: 'betaMax', stroke: COLORS.guard, width: 1, dash: [2, 6] },
    ],
    bands: [{ series: [3, 2], fill: COLORS.band }],
  };
  chart = new uPlot(opts, data, container);
  resize = new ResizeObserver(() => chart?.setSize({ width: width(), height: 260 }));
  resize.observe(container);
}

const key = () => h('ul', { class: 'chart-key', 'aria-hidden': 'true' },
  h('li', { class: 'k-estimate' }, 'β̂ and its 95 % interval (shaded)'), h('li', { class: 'k-used' }, 'β in use'), h('li', { class: 'k-guard' }, 'guardrails betaMin, betaMax'));

function decisions(log) {
  const rows = log.map((e) => ({
    attrs: { 'data-seq': e.seq, 'data-action': e.action },
    cells: [String(e.seq), time(e.at), figure(`action-${e.seq}`, e.action, e.action), e.evidence ? figure(`beta-${e.seq}`, e.evidence.beta?.estimate, betaCI(e.evidence.beta)) : '—',
      e.evidence ? figure(`reports-${e.seq}`, e.evidence.reports, count(e.evidence.reports)) : '—',
      RUNS.has(e.action) && e.evidence ? `${beta(e.betaBefore)} → ${beta(e.betaAfter)}` : e.toVersion ?? '—', e.reason],
  }));
  return table('Every decision of the loop, oldest first (the audit log)', ['#', 'when', 'decision', 'β̂ [95 % CI]', 'reports', 'β before → after', 'reason'], rows, { class: 'decisions' });
}

export function renderLoop(log, status) {
  const learning = status.policy.learning ?? null;
  const served = status.policy.strategy?.beta ?? null;
  const head = [];
  if (!learning) {
    head.push(note('off', `Policy ${status.policy.version} has no "learning" section, so the loop is off: nothing is learned and β stays ${beta(served)}. To learn β, deploy a policy with one (policy/learning.json is a complete example) as PRICELET_POLICY.`));
    return fill('loop', head, log.length ? decisions(log) : null);
  }
  head.push(h('p', { class: 'settings' }, 'β in use: ', figure('beta-used', served, beta(served)), '; guardrail band ',
    figure('band', `${learning.betaMin},${learning.betaMax}`, `[${learning.betaMin}, ${learning.betaMax}]`),
    `; β moves at most ${learning.maxBetaStep} per change, only once ${count(learning.minReports)} reports are in and the interval is narrower than ${learning.maxIntervalWidth}.`));
  if (learning.enabled === false) head.push(note('off', 'learning.enabled is false in this policy: every run is logged as "stopped" and changes nothing. Deploy the policy with learning.enabled: true to learn.'));
  const runs = runsOf(log);
  if (runs.length === 0) {
    head.push(note('empty', 'The proposer has not run yet. It runs every 6 hours (Cron Trigger) and on POST /policy/propose; each run closes a collection round and decides on all reports so far.'));
    return fill('loop', head, decisions(log));
  }
  const last = runs.at(-1).entry;
  const needs = last.action === 'hold' ? holdNeeds(last, learning) : null;
  head.push(h('p', { class: 'latest' }, 'Latest decision: ', figure('latest-action', last.action, last.action),
    needs ? [': ', figure('hold-have', needs.have, count(needs.have)), ' of ~', figure('hold-need', needs.need, count(needs.need)), ` reports needed (${needs.why})`] : '', `. ${last.reason}`));
  const text = summary(runs, learning, served);
  const plot = h('div', { class: 'chart', role: 'img', 'aria-label': `Chart of β̂ by proposer run. ${text}` });
  const body = fill('loop', head, h('figure', {}, plot, h('figcaption', { dataset: { figure: 'loop-summary' } }, text), key()), decisions(log));
  drawChart(body.querySelector('.chart'), runs, learning);
  return body;
}
