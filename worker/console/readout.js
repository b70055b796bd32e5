// The A/B read-out and the discount cost, from GET /estimates: every figure with its 95 % interval
// (privacy noise and the sampling of shoppers both in it) and the number of reports behind it.
import { figure, fill, h, note, table } from './dom.js';
import { count, pct, pctCI, points, pointsCI, reportsNeeded } from './format.js';

/** The arms as a merchant names them: in an A/B policy `treatment` is personalized pricing. */
function armName(arm, domainVersion) {
  if (arm === 'control') return 'control (list price)';
  if (arm === 'explore' || domainVersion === 2) return 'exploration (random test prices)';
  return 'personalized';
}

function noReports(section, estimates, policy) {
  const e = estimates.missing;
  if (e.code === 'reporting_off') {
    return fill(section, note('off', `Policy ${policy.version} has no "reporting" section, so devices send no reports and there is nothing to read out. Add one (see policy/default.json) to measure.`));
  }
  return fill(section, note('empty', `No reports yet for policy ${policy.version}. Reports come from consenting shoppers' devices (pricer.report() → POST /report), one per quote once its outcome is known; this section fills in as they arrive.`));
}

function setup(e) {
  return h('p', { class: 'setup' }, figure('reports', e.reports, count(e.reports)), ' reports',
    e.firstDay ? ` from ${e.firstDay} to ${e.lastDay}` : '', `, policy ${e.policy}, ${e.mechanism.toUpperCase()} at ε = ${e.epsilon} per report. `, e.intervals, '.');
}

/** How many reports a ±1-point read-out of `estimate` needs, beside how many there are. */
function needed(name, estimate, n, what, epsilon) {
  const need = reportsNeeded(estimate, n);
  if (need === null) return note('early', `Too few reports to say how many a ±1-point read-out of ${what} needs.`);
  const done = need <= n;
  return h('p', { class: 'needed' }, `For ±1 point on ${what} at ε = ${epsilon}: about `, figure(`needed-${name}`, need, count(need)), ' reports ',
    done ? `(there are ${count(n)}: the read-out is that precise already).` : `(${count(n)} so far, ${pct(n / need, 0)} of the way).`);
}

export function renderReadout(estimates, policy) {
  if (estimates.missing) return noReports('readout', estimates, policy);
  const e = estimates;
  const arms = e.arms.filter((a) => a.exposures > 0.5 || a.arm !== 'control' || e.domainVersion === 1);
  const rows = arms.map((a) => ({
    attrs: { 'data-arm': a.arm },
    cells: [armName(a.arm, e.domainVersion), figure(`exposures-${a.arm}`, a.exposures, count(a.exposures)),
      figure(`conversion-${a.arm}`, a.conversion?.estimate, pctCI(a.conversion)), figure(`revenue-${a.arm}`, a.revenueShare?.estimate, pctCI(a.revenueShare))],
  }));
  const out = [setup(e), table('Conversion by arm (95 % intervals)', ['arm', 'reports', 'conversion [95 % CI]', 'revenue per shopper, share of list [95 % CI]'], rows, { class: 'arms' })];
  if (e.domainVersion === 2) {
    const explore = e.arms.find((a) => a.arm !== 'control' && a.conversion) ?? null;
    out.push(note('info', `Under this learning policy devices report only exploration quotes (prices drawn at random, so the loop can measure how shoppers respond to a discount). There is no personalized-versus-control comparison in these reports: for an A/B read-out, run a measurement period with a policy without reporting.interestBuckets.`));
    if (explore) out.push(needed('explore', explore.conversion, explore.exposures, 'the exploration conversion', e.epsilon));
    return fill('readout', out);
  }
  const lift = e.incrementalConversion;
  if (!lift) {
    out.push(note('early', 'Too few reports to compare the arms yet: an arm\'s de-biased exposures are still too close to zero for a ratio. Keep collecting.'));
    return fill('readout', out);
  }
  const decided = lift.lo > 0 ? 'personalized prices convert better than list prices' : lift.hi < 0 ? 'personalized prices convert worse than list prices' : 'no difference can be told apart from the noise yet';
  out.push(h('p', { class: 'lift' }, 'Lift of personalized over control: ', figure('lift', lift.estimate, pointsCI(lift)), ` conversion (${decided}); revenue per shopper `,
    figure('revenue-lift', e.revenueShareDifference?.estimate, pointsCI(e.revenueShareDifference)), ' of list.'));
  out.push(needed('lift', lift, e.reports, 'the lift', e.epsilon));
  return fill('readout', out);
}

export function renderCost(estimates, policy) {
  if (estimates.missing) return fill('cost', note('empty', 'No reports yet: the share of quotes discounted and the mean discount show here once reports arrive.'));
  const e = estimates;
  const total = e.steps.reduce((s, x) => s + Math.max(0, x.exposures), 0);
  if (!(total > 0)) return fill('cost', note('early', 'Too few reports: the de-biased exposures by step are not yet positive.'));
  const discounted = e.steps.filter((s) => s.discountPercent > 0).reduce((s, x) => s + Math.max(0, x.exposures), 0);
  const mean = e.steps.reduce((s, x) => s + Math.max(0, x.exposures) * x.discountPercent, 0) / total / 100;
  const rows = e.steps.map((s) => ({
    attrs: { 'data-step': s.step },
    cells: [`${s.discountPercent} %`, figure(`step-exposures-${s.step}`, s.exposures, count(s.exposures)), pct(Math.max(0, s.exposures) / total),
      figure(`step-conversion-${s.step}`, s.conversion?.estimate, pctCI(s.conversion)), s.fitted === null ? '—' : pct(s.fitted)],
  }));
  const exact = e.domainVersion === 2;
  return fill('cost',
    h('p', {}, 'Share of quotes discounted: ', figure('share-discounted', discounted / total, pct(discounted / total)), '; mean discount ', figure('mean-discount', mean, pct(mean)),
      ' of list over all quotes, ', pct(discounted > 0 ? (mean * total) / discounted : null), ' over the discounted ones.'),
    note('info', exact
      ? 'These are exploration quotes: their step is drawn at random and sent as it is, so the counts are exact — but they are test prices, not what the policy\'s own discounts cost. A measurement period with a policy without reporting.interestBuckets shows that.'
      : 'The step of each report is randomized too: the counts are de-biased estimates (their noise is of the size shown in the conversion intervals). Control quotes are always at list price.'),
    table('Quotes and conversion by discount step', ['discount step', 'reports', 'share of quotes', 'conversion [95 % CI]', 'fitted curve'], rows, { class: 'steps' }),
    e.beta ? h('p', {}, `Price response fitted to these steps: β̂ = ${e.beta.beta.estimate.toFixed(2)} [${e.beta.beta.lo.toFixed(2)}, ${e.beta.beta.hi.toFixed(2)}]; the policy assumes β = ${policy.strategy?.beta ?? '—'}.`) : null,
    e.caveat ? h('p', { class: 'caveat' }, e.caveat) : null);
}
