// The policy versions: which one is served, which one still verifies (its grace period), and what
// changed between any two, from GET /policy/status and the policies in the audit log.
import { figure, fill, h, note, table } from './dom.js';
import { beta, duration, time } from './format.js';

/** Every version the store served, in order of first appearance, with its policy. */
export function versionsOf(log) {
  const byVersion = new Map();
  for (const e of log) {
    if (e.policy?.version && !byVersion.has(e.policy.version)) byVersion.set(e.policy.version, { version: e.policy.version, policy: e.policy, at: e.at, action: e.action });
  }
  return [...byVersion.values()];
}

/** Leaf paths of a JSON value: { 'strategy.beta': 4, … }. */
function leaves(value, prefix = '', out = {}) {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
    if (Object.keys(value).length === 0) out[prefix] = Array.isArray(value) ? '[]' : '{}';
  } else {
    out[prefix] = value;
  }
  return out;
}

// Every new version has its own name and names the one it replaced: those lines are bookkeeping.
const BOOKKEEPING = /^(version|previousVersion(\..*)?)$/;

/** The fields that differ between two policies: [{ path, from, to }]. */
export function diff(a, b) {
  const x = leaves(a);
  const y = leaves(b);
  return [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()
    .filter((p) => JSON.stringify(x[p]) !== JSON.stringify(y[p]))
    .map((path) => ({ path, from: x[path], to: y[path] }));
}

const show = (v) => (v === undefined ? '(absent)' : typeof v === 'string' ? v : JSON.stringify(v));

function diffView(from, to) {
  const changes = diff(from.policy, to.policy);
  const substantive = changes.filter((c) => !BOOKKEEPING.test(c.path));
  const onlyBeta = substantive.every((c) => c.path === 'strategy.beta');
  const verdict = substantive.length === 0
    ? note('info', 'Nothing but the version name changed.')
    : onlyBeta
      ? note('ok', `Only strategy.beta changed (${beta(from.policy.strategy?.beta)} → ${beta(to.policy.strategy?.beta)}): the loop never touches anything else.${changes.length > substantive.length ? ' The greyed rows are bookkeeping: each version\'s own name and the version it replaced, with that one\'s grace period.' : ''}`)
      : note('warn', `Fields other than strategy.beta differ: ${substantive.filter((c) => c.path !== 'strategy.beta').map((c) => c.path).join(', ')}. The loop never changes those — this is a different base policy you deployed.`);
  const rows = changes.map((c) => ({ attrs: { 'data-path': c.path, class: BOOKKEEPING.test(c.path) ? 'bookkeeping' : null }, cells: [c.path, show(c.from), show(c.to)] }));
  return [verdict, rows.length ? table(`What changed from ${from.version} to ${to.version}`, ['field', from.version, to.version], rows, { class: 'diff' }) : null];
}

export function renderVersions(log, status) {
  const served = status.policy;
  const prev = served.previousVersion;
  const graceLeft = prev ? prev.acceptUntil - status.now : 0;
  const out = [h('p', {}, 'Served now: ', figure('served-version', served.version, served.version), ` (β = ${beta(served.strategy?.beta)})`,
    served.version === status.baseVersion ? ' — your deployed base policy.' : `, a version the loop made from your base policy ${status.baseVersion}.`)];
  out.push(prev && graceLeft > 0
    ? h('p', {}, 'Still verifying: quotes of ', figure('grace-version', prev.version, prev.version), ` are accepted at checkout for ${duration(graceLeft)} more (until ${time(prev.acceptUntil)}), the grace period for quotes in flight.`)
    : note('info', 'No earlier version verifies any more: only quotes of the served version are accepted at checkout.'));
  const versions = versionsOf(log);
  if (versions.length === 0) return fill('versions', out);
  const state = (v) => (v.version === served.version ? 'served' : prev && v.version === prev.version && graceLeft > 0 ? 'verifies (grace)' : 'retired');
  out.push(table('Versions, oldest first', ['version', 'β', 'first served', 'how', 'now'], versions.map((v) => ({
    attrs: { 'data-version': v.version },
    cells: [v.version, beta(v.policy.strategy?.beta), time(v.at), v.action, state(v)],
  })), { class: 'versions' }));
  if (versions.length < 2) {
    out.push(note('early', 'Only one version so far: a diff shows here once the loop proposes a new β.'));
    return fill('versions', out);
  }
  const pick = (id, label, selected) => h('label', { for: id }, label, h('select', { id }, versions.map((v) => h('option', { value: v.version, selected: v.version === selected }, v.version))));
  const from = pick('diff-from', 'from ', versions.at(-2).version);
  const to = pick('diff-to', 'to ', versions.at(-1).version);
  const result = h('div', { class: 'diff-result', 'aria-live': 'polite' });
  const update = () => {
    const a = versions.find((v) => v.version === from.querySelector('select').value);
    const b = versions.find((v) => v.version === to.querySelector('select').value);
    result.replaceChildren(...diffView(a, b).filter(Boolean));
  };
  from.addEventListener('change', update);
  to.addEventListener('change', update);
  update();
  out.push(h('div', { class: 'diff-pick' }, h('h3', {}, 'Compare two versions'), from, ' ', to), result);
  return fill('versions', out);
}
