// The server-side exports: measurement tallies, the learning loop's proposer, signing. Each is one
// engine call made by `call` (makeApi's), which only the server engine (Node, workerd) answers.
import { pricerError } from './errors.js';
import { batch, wire, wirePolicy } from './wire.js';

/**
 * `call(name, options, code, what, args)`: loads the engine, then calls its `name` with `args()`
 * and parses the answer; an argument that cannot be read is a `code` error about `what`.
 */
export function serverApi(call) {
  /** Adds measurement reports to a running tally (null starts one). */
  function tallyReports(reports, tally = null, options = {}) {
    return call('tallyReports', options, 'invalid_report', 'the reports', () => {
      batch(reports, 'invalid_report', 'tallyReports');
      return [wire(reports, 'invalid_report', 'the reports'), wire(tally, 'invalid_report', 'the tally'), wirePolicy(options?.policy)];
    });
  }

  /** The de-biased read-out of a tally (conversion by arm / step / segment, A/B, β). */
  function estimates(tally, options = {}) {
    return call('estimates', options, 'invalid_report', 'the tally', () => [wire(tally, 'invalid_report', 'the tally'), wirePolicy(options?.policy)]);
  }

  /** Merges the tallies of a collector's shards into one (sums merge exactly). */
  function mergeTallies(tallies, options = {}) {
    return call('mergeTallies', options, 'invalid_report', 'the tallies', () => [wire(tallies, 'invalid_report', 'the tallies'), wirePolicy(options?.policy)]);
  }

  /**
   * The learning loop's proposer: keep `policy`, or the next version, from the tallies of its
   * reports, one per collection round. `options`: { baseVersion, sequence, now? } — the next
   * version is named `<baseVersion>+loop.<sequence>`.
   */
  function proposePolicy(policy, rounds, options = {}) {
    return call('proposePolicy', options, 'invalid_policy', 'the policy or tallies', () => {
      if (policy === null || policy === undefined) throw pricerError('invalid_policy', 'proposePolicy needs the current policy (the one the reports were made under)');
      if (options === null || typeof options !== 'object') throw pricerError('invalid_argument', 'options must be { baseVersion, sequence, now? }', 'options');
      const turn = { now: options.now ?? Date.now(), baseVersion: options.baseVersion, sequence: options.sequence };
      return [wire(policy, 'invalid_policy', 'the policy'), wire(rounds, 'invalid_report', 'the rounds'), wire(turn, 'invalid_argument', 'the options')];
    });
  }

  /**
   * What a collector applies to `policy`, from the engine that owns the rules: `{
   * reportsPerDevicePerDay, graceWhenReplacedMs }` (the first null without `reporting`).
   */
  function policyRules(policy, options = {}) {
    return call('policyRules', options, 'invalid_policy', 'the policy', () => [wirePolicy(policy)]);
  }

  function signQuote(quote, keyId, key, options = {}) {
    return call('signQuote', options, 'invalid_argument', 'the arguments', () => [wire(quote, 'invalid_quote', 'the quote'), keyId, key]);
  }

  return { tallyReports, estimates, mergeTallies, proposePolicy, policyRules, signQuote };
}
