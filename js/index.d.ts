// Type declarations of pricelet's public API (hand-kept; checked by `tsc --noEmit` in the consumer test).

/** A catalog item. Amounts are in major units, as a number or a decimal string ("129.99"). */
export interface Item {
  id: string;
  price: number | string;
  /** ISO 4217 code, e.g. "EUR", "JPY", "KWD". */
  currency: string;
  category?: string;
  /** Net cost; or give `floorPrice` when costs must not be in public JS. */
  cost?: number | string;
  floorPrice?: number | string;
  tags?: string[];
  /** Other fields (name, image, ...) are ignored. */
  [other: string]: unknown;
}

export type PageKind = 'administrative' | 'informational' | 'product';

export interface BehaviourEvent {
  type: 'page_view' | 'add_to_cart' | 'remove_from_cart' | 'purchase';
  /** Milliseconds since the epoch; default: the pricer's clock. */
  at?: number;
  /** Required for page_view. The three metrics are public per-page figures the storefront ships. */
  page?: { kind: PageKind; id?: string; bounceRate?: number; exitRate?: number; pageValue?: number };
  itemId?: string;
  category?: string;
  /** page_view only: time on the page; otherwise the time to the next page view counts. */
  dwellMs?: number;
  quantity?: number;
  /** Major units like prices; requires `currency`. */
  amount?: number | string;
  currency?: string;
}

export type QuoteReason =
  | 'personalized' | 'control' | 'explore' | 'excluded' | 'opted_out' | 'no_consent' | 'no_features'
  | 'model_unavailable' | 'no_feasible_price' | 'engine_reset' | 'cold_start' | 'list';

export interface Quote {
  itemId: string;
  currency: string;
  listPriceMinor: number;
  priceMinor: number;
  /** Always `listPriceMinor - priceMinor`. */
  discountMinor: number;
  /** Major units, for display only. */
  listPrice: number;
  price: number;
  /** The actual discount after rounding, percent of list. */
  discountPercent: number;
  personalized: boolean;
  reason: QuoteReason;
  explanation: string;
  /** The disclosure text to show next to the price, or null. */
  label: string | null;
  interest: number | null;
  variant: 'control' | 'treatment' | 'none';
  /** Probability of this final price under the experiment. */
  propensity: number;
  modelVersion: string;
  policyVersion: string;
  issuedAt: number;
  expiresAt: number;
  quoteId: string;
  /** Edge (signed) quotes only. */
  keyId?: string;
  sig?: string;
}

/** What a storefront posts to its server: never interest, explanation or propensity. */
export type CheckoutQuote = Pick<Quote,
  'itemId' | 'currency' | 'listPriceMinor' | 'priceMinor' | 'discountMinor' | 'reason' | 'variant' |
  'modelVersion' | 'policyVersion' | 'issuedAt' | 'expiresAt' | 'quoteId'> & { keyId?: string; sig?: string };

export interface ItemError {
  itemId: string | null;
  error: { code: string; message: string; field: string | null };
}

/** The engine's error codes (checked equal to the engine's by tests/js/types.test.mjs). */
export type EngineErrorCode =
  | 'invalid_item' | 'invalid_price' | 'unknown_currency' | 'invalid_event' | 'invalid_policy'
  | 'invalid_model' | 'invalid_state' | 'invalid_quote' | 'invalid_report' | 'invalid_features' | 'invalid_argument'
  | 'limit_exceeded' | 'unknown_item' | 'internal';

/** The wrapper's own codes: no engine loaded, an engine reset during the call, a freed pricer, a
 * server-side function called in a browser. */
export type WrapperErrorCode = 'engine_unavailable' | 'engine_reset' | 'freed' | 'server_only';

/** Errors thrown or rejected by pricelet carry a stable `code` and the offending `field`. */
export interface PriceletError extends Error {
  code: EngineErrorCode | WrapperErrorCode;
  field: string | null;
}

export type Consent = 'granted' | 'denied' | 'unknown';

export interface StorageAdapter {
  load(): string | null;
  save(state: string | null): void;
}

/** Bytes, a URL, or either with a Subresource-Integrity hash ("sha256-<base64>"). */
export type ModelSource =
  | Uint8Array | ArrayBuffer | string | URL
  | { url: string | URL; integrity?: string }
  | { bytes: Uint8Array | ArrayBuffer; integrity?: string };

export interface Percentish { [key: string]: unknown }

/** The merchant policy; see README "Policy reference". */
export interface Policy {
  version: string;
  discountSteps: Array<number | string>;
  caps: { globalPercent: number | string; categoryPercent?: Record<string, number | string> };
  margin: { minMarginPercent: number | string; defaultCostPercent: number | string };
  tax: { pricesIncludeTax: boolean; ratePercent: number | string };
  exclusions?: { categories?: string[]; itemIds?: string[]; tags?: string[] };
  priceEndings: Record<string, string[]>;
  strategy:
    | { type: 'tiers'; tiers: Array<{ interestBelow: number; percent: number | string }> }
    | { type: 'linear'; basePercent: number | string; slopePercent: number }
    | { type: 'expectedProfit'; beta: number };
  stability: { ttlMs: number };
  quoteTtlMs: number;
  disclosure: { jurisdiction: string; labelWhen: 'personalized' | 'discounted'; labels: Record<string, string> };
  experiment: { controlPercent: number | string; explorationPercent: number | string; explorationWindowMs: number; offerStepPercent: number | string };
  privacy: { retentionDays: number; purchaseHistoryDays: number };
  maxQuantityPerOrder: number;
  previousVersion?: { version: string; acceptUntil: number };
  /** No quote more than this percent below list, whatever the other caps (the spread between shoppers). */
  maxSpreadPercent?: number | string;
  /** Local-DP measurement reports (docs/measurement.md); absent = `report()` makes none. */
  reporting?: {
    epsilon: number;
    dailyEpsilon: number;
    mechanism?: 'oue' | 'grr';
    /** Interest thresholds: reports use domain version 2 (explore arm × interest bucket), which identifies β. */
    interestBuckets?: number[];
  };
  /** The learning loop's guardrails: what the Worker's proposer may change (only `strategy.beta`), how far and on what evidence; absent = the loop is off. */
  learning?: {
    /** The kill switch. */
    enabled: boolean;
    betaMin: number;
    betaMax: number;
    maxBetaStep: number;
    minReports: number;
    maxIntervalWidth: number;
    graceMs: number;
  };
}

/** One decision of the learning loop's proposer: an audit-log entry. */
export interface PolicyProposal {
  at: number;
  action: 'propose' | 'retreat' | 'hold' | 'stopped';
  reason: string;
  fromVersion: string;
  toVersion: string | null;
  betaBefore: number;
  betaAfter: number;
  evidence: {
    reports: number;
    exploreReports: number;
    beta: Estimate | null;
    fitProblem: string | null;
    breakEvenBeta: number;
    firstDay: string | null;
    lastDay: string | null;
    /** Collection rounds that hold reports (a change needs two at least). */
    rounds: number;
  };
  /** The new policy version (propose, retreat), else null. */
  policy: Policy | null;
}

/** One randomized measurement report: exactly these fields (no id, no item, day granularity). */
export interface MeasurementReport {
  day: string;
  mechanism: 'oue' | 'grr';
  epsilon: number;
  domain: string;
  domainVersion: number;
  /** OUE: one '0'/'1' per domain value. */
  bits?: string;
  /** GRR: the reported value's index. */
  value?: number;
}

/** Why no measurement report was made. */
export type ReportRefusal =
  | 'no_consent' | 'opted_out' | 'reporting_off' | 'not_in_experiment' | 'policy_version_mismatch' | 'daily_budget_exhausted';

export interface ReportOutcome {
  /** The report to send (the host decides whether and where), or null with a `reason`. */
  report: MeasurementReport | null;
  reason: null | ReportRefusal | 'engine_reset';
  message: string | null;
  day: string;
  epsilonSpentToday: number;
  epsilonLeftToday: number;
}

/** A running tally of reports (sufficient statistics only); store it, pass it back to add more. */
export interface ReportTally {
  size: number;
  n: number;
  ones: number[];
  pairs?: number[];
  firstDay: string | null;
  lastDay: string | null;
}

/** An estimate with its standard error and 95 % interval (privacy noise included). */
export interface Estimate { estimate: number; se: number; lo: number; hi: number }

export interface Estimates {
  reports: number;
  firstDay: string | null;
  lastDay: string | null;
  policy: string;
  mechanism: 'oue' | 'grr';
  epsilon: number;
  domain: string;
  domainVersion: number;
  intervals: string;
  arms: Array<{ arm: 'control' | 'treatment' | 'explore'; exposures: number; conversion: Estimate | null; revenueShare: Estimate | null }>;
  incrementalConversion: Estimate | null;
  revenueShareDifference: Estimate | null;
  steps: Array<{ step: number; discountPercent: number; exposures: number; treatmentShare: Estimate | null; conversion: Estimate | null; fitted: number | null }>;
  /** `new`/`returning` (domain version 1) or `interest 0-0.1`… (version 2). */
  segments: Array<{ segment: string; exposures: number; conversion: Estimate | null }>;
  beta: { beta: Estimate; alpha: number; alphas: Array<number | null>; fitted: Array<number | null>; stepsUsed: number; reportsUsed: number } | null;
  betaProblem: string | null;
  policyBeta: number | null;
  caveat: string;
  cellCounts: number[];
}

export interface CreatePricerOptions {
  /** Interest model; default: the bundled one named by `bundledModel`. `null`: none (list prices). */
  model?: ModelSource | null;
  /** Which bundled interest model to load when `model` is not given: 'interest' (default) or
   * 'interest-behaviour' (for storefronts without page values: no `page_value_avg`). */
  bundledModel?: 'interest' | 'interest-behaviour';
  /** Optional uplift model: per-shopper price response for `expectedProfit`. */
  upliftModel?: ModelSource | null;
  /** Load the bundled models/uplift.onnx (Hillstrom S-learner, a methodology demonstration). */
  bundledUpliftModel?: boolean;
  /** Policy object, or a URL of its JSON; default: the bundled policy. */
  policy?: Policy | string | URL;
  /** Where behaviour persists with consent 'granted'. Browser default 'local', elsewhere 'memory'. */
  storage?: 'local' | 'memory' | StorageAdapter;
  storageKey?: string;
  /** Default 'unknown': behaviour kept in memory for this page session only. */
  consent?: Consent;
  /** Default true: `navigator.globalPrivacyControl === true` turns personalization off. */
  respectGlobalPrivacyControl?: boolean;
  /** The engine's .wasm (URL, bytes or compiled module); default: next to this package's files. */
  wasm?: string | URL | Uint8Array | ArrayBuffer | WebAssembly.Module;
  /** Clock in ms since the epoch (tests). */
  now?: () => number;
  utcOffsetMinutes?: number;
  /** Anonymous id (tests). */
  anonId?: string;
  /** Override the policy's stability TTL (tests). */
  stabilityTtlMs?: number;
}

/** Why `track()` stored nothing. */
export type NotStored = 'no_consent' | 'opted_out' | 'past_retention';

export interface TrackResult {
  stored: boolean;
  /** Written to the storage adapter (consent 'granted') or the page-session memory ('unknown'). */
  persisted: boolean;
  reason?: NotStored | 'engine_reset';
  /** Oldest events dropped to keep the log within its bounds. */
  evicted?: number;
}

export interface ModelStatus {
  state: 'ready' | 'unavailable' | 'absent';
  reason?: string;
  info?: { kind: 'interest' | 'uplift'; version: string; trainedOn: string; features: string[]; bytes: number; integrity: string };
}

/** What happened to the stored state when it was loaded. */
export type LoadOutcome = 'empty' | 'loaded' | 'repaired' | 'discarded';

export interface PricerStatus {
  model: ModelStatus;
  upliftModel: ModelStatus;
  policyVersion: string;
  /** What happened to the stored state on load. */
  state: { outcome: LoadOutcome; reason?: string; events: number; droppedEvents: number };
  consent: Consent;
  globalPrivacyControl: boolean;
  persistence: 'storage' | 'memory' | 'none';
  personalization: 'on' | 'off';
  events: number;
  storage?: string;
  /** Size of the engine's WebAssembly linear memory in bytes (it only grows: a high-water mark). */
  wasmMemoryBytes: number;
  engineResets: number;
}

export interface Explanation {
  itemId: string;
  quote: Quote;
  interest: number | null;
  uplift: number | null;
  beta: number | null;
  /** `value` is what the model received; `raw` the same before its `transform`, in `unit`. */
  features: Array<{ name: string; value: number; raw: number; transform: string; meaning: string; unit: string }>;
  bounds: { floorMinor: number; cap: number; capPriceMinor: number; costMinor: number } | null;
  candidates: Array<{ priceMinor: number; discountMinor: number; step: number }>;
  choice: { index: number; wantedDiscount: boolean; expectedProfit?: number[] } | null;
  explored: boolean;
}

export interface EdgeRequest {
  items: Item[];
  features?: number[][];
  featureNames?: string[];
  variant?: 'control' | 'treatment';
}

/** What `verifyQuote` can find wrong. */
export type ProblemCode =
  | 'malformed_quote' | 'item_mismatch' | 'currency_mismatch' | 'list_price_changed' | 'discount_inconsistent'
  | 'price_out_of_range' | 'excluded_item_discounted' | 'below_floor' | 'over_cap' | 'spread_exceeded' | 'bad_ending'
  | 'expired' | 'bad_time' | 'unknown_policy_version' | 'invalid_quantity' | 'quantity_over_limit'
  | 'quote_id_mismatch' | 'bad_signature' | 'unknown_key' | 'missing_signature';

export interface Verification {
  ok: boolean;
  problems: Array<{ code: ProblemCode; message: string }>;
}

export interface VerifyOptions {
  now?: number;
  /** A positive whole number; anything else fails as `invalid_quantity`. */
  quantity?: number;
  /** Signing secrets (at least 16 bytes) by keyId; when given, a valid signature is required. */
  keys?: Record<string, string> | Map<string, string>;
  wasm?: CreatePricerOptions['wasm'];
}

export interface Pricer {
  /**
   * Keeps `quote`, shown for `item` before the pricer was ready (`quoteBeforeReady(item)` while the
   * engine loaded), as the item's price for the stability window: a price on screen never changes
   * in front of the shopper. True if `priceFor(item)` now answers `quote` (it must still pass
   * `verifyQuote` for the item); false if the item keeps another price or is priced anew.
   */
  adoptQuote(item: Item, quote: Quote): boolean;
  /** Synchronous. Throws PriceletError for a bad item. */
  priceFor(item: Item): Quote;
  pricesFor(items: Item[]): Array<Quote | ItemError>;
  track(event: BehaviourEvent): TrackResult;
  explain(itemId: string): Explanation;
  /** Deletes all stored behaviour and the anonymous id. */
  forget(): void;
  setConsent(consent: Consent): void;
  /** Everything stored about the shopper, exactly as stored. */
  exportData(): {
    persistence: 'storage' | 'memory' | 'none';
    consent: Consent;
    anonId: string | null;
    retentionDays: number;
    purchaseHistoryDays: number;
    storedBytes: number;
    evictedEvents: number;
    state: { schema: string; version: number; anonId?: string; evicted: number; events: BehaviourEvent[] } | null;
  };
  /** A local-DP measurement report for a quote that was shown (`converted`: bought at it). Sends nothing. */
  report(quote: Quote, options?: { converted?: boolean }): ReportOutcome;
  /** Edge mode (consent 'granted'): the body to POST to a pricelet Worker. */
  edgeRequest(items: Item[]): EdgeRequest;
  /**
   * Edge mode, server side: prices items from device-computed features. With `sign`, every quote is
   * also signed as `signQuote(quote, keyId, key)` would sign it, in the same call. The request may be
   * the JSON text of an EdgeRequest (a server passes the body as it came, parsed once, in the engine);
   * with `json: true` the answer is the JSON text of the array, ready to send.
   */
  priceFromFeatures(request: EdgeRequest | string, options?: { sign?: { keyId: string; key: string }; json?: false }): Array<Quote | ItemError>;
  priceFromFeatures(request: EdgeRequest | string, options: { sign?: { keyId: string; key: string }; json: true }): string;
  readonly policy: Policy;
  readonly status: PricerStatus;
  /** Releases the engine memory of this pricer. */
  free(): void;
}

export function createPricer(options?: CreatePricerOptions): Promise<Pricer>;
/** A list-price quote, synchronously, usable before createPricer() has resolved. */
export function listQuote(item: Item, options?: { policy?: Policy; now?: number }): Quote;
export interface QuoteBeforeReadyOptions {
  /** The policy the pricer will use (default: the bundled one). */
  policy?: Policy;
  now?: number;
  /** Where the pricer will keep its state: as in CreatePricerOptions (default: localStorage in a browser). */
  storage?: CreatePricerOptions['storage'];
  storageKey?: string;
  stabilityTtlMs?: number;
}
/**
 * The quote to show for `item` before createPricer() has resolved, synchronously: the one this
 * shopper was already shown on another page of the shop (kept with consent, within the stability
 * window, still valid), else the list quote. Hand it to `pricer.adoptQuote(item, quote)` once ready.
 */
export function quoteBeforeReady(item: Item, options?: QuoteBeforeReadyOptions): Quote;
/**
 * The policy as every pricer reads it: validated, every default spelled out (null or omitted: the
 * bundled default). Rejects with a PriceletError `invalid_policy` whose `field` names what to fix.
 */
/** What a collector applies to a policy (server side): read from the engine that owns the rules. */
export interface PolicyRules {
  /** The most reports one device sends a day (`reporting.dailyEpsilon` over `reporting.epsilon`, float sums allowed for); null without `reporting`. */
  reportsPerDevicePerDay: number | null;
  /** How long quotes of this policy verify once another version replaces it (`learning.graceMs`, at least `quoteTtlMs`). */
  graceWhenReplacedMs: number;
}
export function policyRules(policy?: Policy | null, options?: { wasm?: CreatePricerOptions['wasm'] }): Promise<PolicyRules>;
export function validatePolicy(policy?: Policy | null, options?: { wasm?: CreatePricerOptions['wasm'] }): Promise<Policy>;
export function verifyQuote(quote: Quote | CheckoutQuote, item: Item, policy?: Policy | null, options?: VerifyOptions): Promise<Verification>;
export function toCheckout(quote: Quote): CheckoutQuote;
/** Edge mode: signs a quote with HMAC-SHA256 under `keyId`. */
export function signQuote(quote: Quote, keyId: string, key: string, options?: { wasm?: CreatePricerOptions['wasm'] }): Promise<Quote>;
/** Adds reports to a running tally (`null` starts one), all or nothing; refuses reports of another setup. */
export function tallyReports(reports: MeasurementReport[], tally?: ReportTally | null, options?: { policy?: Policy; wasm?: CreatePricerOptions['wasm'] }): Promise<ReportTally>;
/** The de-biased read-out of a tally: conversion by arm / discount step / segment, A/B, refitted β. */
export function estimates(tally: ReportTally, options?: { policy?: Policy; wasm?: CreatePricerOptions['wasm'] }): Promise<Estimates>;
/** Merges the tallies of a collector's shards (null = an empty shard): the same read-out as one tally. */
export function mergeTallies(tallies: Array<ReportTally | null>, options?: { policy?: Policy; wasm?: CreatePricerOptions['wasm'] }): Promise<ReportTally>;
/**
 * The learning loop's proposer: from the tallies of the policy's reports, one per collection round
 * (oldest first), keep it or propose the next version, named `<baseVersion>+loop.<sequence>`
 * (shortened to fit the version limit). A change needs evidence that holds with any one round
 * left out. Hand out each `sequence` once (the caller's store keeps the counter).
 */
export function proposePolicy(policy: Policy, rounds: Array<ReportTally | null>, options: { baseVersion: string; sequence: number; now?: number; wasm?: CreatePricerOptions['wasm'] }): Promise<PolicyProposal>;
/** Loads the engine ahead of time (optional). */
export function init(options?: { wasm?: CreatePricerOptions['wasm'] }): Promise<void>;

/** The engine's constants: the values these declarations are checked against. */
export function constants(): {
  consents: Consent[];
  storageKey: string;
  reasons: QuoteReason[];
  variants: Quote['variant'][];
  errorCodes: EngineErrorCode[];
  problemCodes: ProblemCode[];
  reportRefusals: ReportRefusal[];
  notStored: NotStored[];
  loadOutcomes: LoadOutcome[];
  maxEdgeItems: number;
  limits: Record<string, number>;
};
