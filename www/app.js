// Atelier pricelet — the demo storefront. Plain ES modules, no framework, no build step.
// Every price comes from pricelet running on this device; the page's only requests are its own
// files and the package's files (the browser tests prove it). All text goes in through
// textContent / createElement: nothing from data is ever parsed as markup.
import { productArt } from './art.js';

// Test hooks: a fixed anonymous id, no stability window and a clock the tests move by hand.
const TEST = window.PRICELET_TEST ?? null;
const clock = TEST ? () => TEST.now : () => Date.now();

const CONSENT_KEY = 'demo:consent'; // the store's record of the shopper's choice (not behaviour)
const CART_KEY = 'demo:cart'; // sessionStorage: this tab's cart only
const CONSENTS = ['granted', 'denied', 'unknown'];

const app = {
  catalog: null,
  byId: new Map(),
  lib: null, // the pricelet module; null when it could not be loaded (catalog prices then)
  pricer: null, // set once createPricer() resolves
  engine: 'loading', // 'loading' | 'ready' | 'unavailable'
  consent: readConsent(),
  cart: readCart(),
  here: null, // the page being viewed: { page, category, enteredAt }
  pending: [], // events from before the engine was ready
  shownEarly: new Map(), // item id → { item, at, quote? }: list prices shown before the engine was ready
  order: null, // the last placed order, for the confirmation
  renders: 0,
};

// ---------- small DOM helpers ----------

/** h('p', { class: 'x', onclick }, 'text', child) — strings become text nodes, never markup. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'hidden' || k === 'disabled') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const formats = new Map();
function money(major, currency) {
  if (!formats.has(currency)) formats.set(currency, new Intl.NumberFormat(undefined, { style: 'currency', currency }));
  return formats.get(currency).format(major);
}

/** ISO 4217 minor-unit digits (EUR 2, JPY 0), as Intl knows them. */
function digits(currency) {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
}

/** Integer minor units → an exact decimal string in major units ("144.98"), no float rounding. */
function majorString(minor, currency) {
  const d = digits(currency);
  const s = String(minor).padStart(d + 1, '0');
  return d ? `${s.slice(0, -d)}.${s.slice(-d)}` : s;
}

const minorToMajor = (minor, currency) => minor / 10 ** digits(currency); // display only

let toastTimer = 0;
function toast(text) {
  const el = document.getElementById('toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 2600);
}

// ---------- storage of the store's own records (consent choice, cart) ----------

function readConsent() {
  try {
    // 'Decide later' lives in sessionStorage so the banner asks again on the next visit.
    const saved = localStorage.getItem(CONSENT_KEY) ?? sessionStorage.getItem(CONSENT_KEY);
    return CONSENTS.includes(saved) ? { value: saved, decided: true } : { value: 'unknown', decided: false };
  } catch {
    return { value: 'unknown', decided: false };
  }
}

function saveConsent(value) {
  try {
    localStorage.removeItem(CONSENT_KEY);
    sessionStorage.removeItem(CONSENT_KEY);
    (value === 'unknown' ? sessionStorage : localStorage).setItem(CONSENT_KEY, value);
  } catch { /* storage blocked: the choice holds for this page */ }
}

function readCart() {
  try { return JSON.parse(sessionStorage.getItem(CART_KEY)) ?? {}; } catch { return {}; }
}

function saveCart() {
  try { sessionStorage.setItem(CART_KEY, JSON.stringify(app.cart)); } catch { /* this page only */ }
}

// ---------- pricing ----------

function quoteFor(item) {
  if (app.pricer) return app.pricer.priceFor(item);
  // Before the engine has loaded: the price this shopper was shown on another page of the shop, or
  // the list price; remembered so it stays once the engine is ready (adoptQuote).
  const early = app.shownEarly.get(item.id) ?? { item, at: clock() };
  app.shownEarly.set(item.id, early);
  if (app.lib) return (early.quote ??= app.lib.quoteBeforeReady(item, { now: early.at, stabilityTtlMs: TEST?.stabilityTtlMs })); // synchronous
  return catalogQuote(item);
}

/** Without pricelet at all: the catalog's own price, in the few fields the page reads. */
function catalogQuote(item) {
  const minor = Math.round(Number(item.price) * 10 ** digits(item.currency));
  return {
    itemId: item.id, currency: item.currency, listPriceMinor: minor, priceMinor: minor, discountMinor: 0,
    listPrice: Number(item.price), price: Number(item.price), discountPercent: 0, reason: 'list',
    explanation: 'List price: the pricing library is not loaded.', label: null, quoteId: '',
  };
}

/** Events carry their own time, so ones queued before the engine was ready keep it. */
function track(event) {
  const ev = { at: clock(), ...event };
  if (app.pricer) app.pricer.track(ev);
  else if (app.engine === 'loading') app.pending.push(ev);
}

function personalizationOn() {
  return app.pricer?.status.personalization === 'on';
}

function gpcOn() {
  return app.pricer ? app.pricer.status.globalPrivacyControl : navigator.globalPrivacyControl === true;
}

// ---------- routing and page views ----------

function route() {
  const [, view = '', rest = ''] = location.hash.match(/^#\/([a-z]*)\/?(.*)$/) ?? [];
  if (view === 'product') {
    const item = app.byId.get(decodeURIComponent(rest));
    return item ? { view, item } : { view: 'catalog' };
  }
  return ['cart', 'checkout', 'about', 'privacy'].includes(view) ? { view } : { view: 'catalog' };
}

/** What a page_view says about a route: its kind (as in the model's training data) and public metrics. */
function pageOf(r) {
  const metrics = ({ bounceRate, exitRate, pageValue }) => ({ bounceRate, exitRate, pageValue });
  const pages = app.catalog.pages;
  if (r.view === 'product') return { page: { kind: 'product', id: r.item.id, ...metrics(r.item) }, category: r.item.category };
  // The catalog lists products: a "product related" page, as analytics counted listings.
  if (r.view === 'catalog') return { page: { kind: 'product', id: 'catalog', ...metrics(pages.catalog) } };
  if (r.view === 'about') return { page: { kind: 'informational', id: 'about', ...metrics(pages.about) } };
  return { page: { kind: 'administrative', id: r.view, ...metrics(pages[r.view]) } };
}

function enterPage() {
  app.here = { ...pageOf(route()), enteredAt: clock() };
}

/** A page view is tracked when the shopper leaves it: entry time plus the time spent there. */
function leavePage() {
  if (!app.here) return;
  const { page, category, enteredAt } = app.here;
  app.here = null;
  track({ type: 'page_view', at: enteredAt, dwellMs: Math.max(0, clock() - enteredAt), page, ...(category ? { category } : {}) });
}

function onRoute() {
  leavePage();
  enterPage();
  app.order = null; // the order confirmation shows until the shopper moves on
  render();
  window.scrollTo(0, 0);
}

// ---------- actions ----------

function setConsent(value) {
  app.consent = { value, decided: true };
  saveConsent(value);
  app.pricer?.setConsent(value);
  render();
}

function addToCart(item) {
  app.cart[item.id] = (app.cart[item.id] ?? 0) + 1;
  saveCart();
  track({ type: 'add_to_cart', itemId: item.id, category: item.category, quantity: 1 });
  render();
  toast(`${item.name} added to your cart`);
}

function removeFromCart(item) {
  const quantity = app.cart[item.id] ?? 0;
  delete app.cart[item.id];
  saveCart();
  track({ type: 'remove_from_cart', itemId: item.id, category: item.category, quantity });
  render();
}

function forgetMe() {
  app.pricer.forget();
  // The visit to this page began before the shopper asked to be forgotten: do not record it.
  if (app.here) app.here.enteredAt = clock();
  render();
  toast('Deleted. Prices are back to those of a first visit.');
}

function cartLines() {
  return Object.entries(app.cart)
    .filter(([id]) => app.byId.has(id))
    .map(([id, quantity]) => {
      const item = app.byId.get(id);
      return { item, quantity, quote: quoteFor(item) };
    });
}

/** Totals per currency in minor units (a cart may mix EUR and JPY). */
function totals(lines) {
  const sum = new Map();
  for (const { quote, quantity } of lines) sum.set(quote.currency, (sum.get(quote.currency) ?? 0) + quote.priceMinor * quantity);
  return [...sum];
}

function placeOrder(lines) {
  const sums = totals(lines);
  for (const [currency, minor] of sums) track({ type: 'purchase', amount: majorString(minor, currency), currency });
  app.order = { items: lines.reduce((n, l) => n + l.quantity, 0), sums };
  app.cart = {};
  saveCart();
  render();
}

// ---------- views ----------

const REASONS = {
  personalized: 'Personalized', control: 'Control group', explore: 'Price test', excluded: 'Never personalized',
  opted_out: 'Opted out (GPC)', no_consent: 'No consent', no_features: 'No data', model_unavailable: 'Model unavailable',
  no_feasible_price: 'List price', engine_reset: 'Engine restarted', list: 'List price', cold_start: 'New visitor offer',
};

function categoryName(item) {
  return app.catalog.categories[item.category] ?? item.category;
}

/** Any element showing a product's price carries the quote in data-* for the tests. */
function productEl(tag, item, q, attrs, ...children) {
  return h(tag, {
    ...attrs,
    dataset: {
      itemId: item.id, priceMinor: q.priceMinor, listPriceMinor: q.listPriceMinor, reason: q.reason, quoteId: q.quoteId,
    },
  }, ...children);
}

function priceBlock(item, q, { big = false } = {}) {
  const off = q.discountMinor > 0;
  const panel = h('div', { class: 'why-panel', hidden: true });
  const why = h('button', {
    class: 'why', type: 'button', 'aria-expanded': 'false',
    onclick: () => {
      const open = panel.hidden;
      if (open) panel.replaceChildren(...whyContent(item, q));
      panel.hidden = !open;
      why.setAttribute('aria-expanded', String(open));
    },
  }, 'Why this price?');
  return h('div', { class: big ? 'pricing big' : 'pricing' },
    h('p', { class: 'price-line' },
      h('span', { class: 'price' }, money(q.price, q.currency)),
      off ? h('s', { class: 'list-price' }, money(q.listPrice, q.currency)) : null,
      // Rounded down: a stated reduction may never overstate the real one (19.77 % shows −19 %).
      off ? h('span', { class: 'off' }, `−${Math.floor(q.discountPercent)} %`) : null),
    q.label ? h('p', { class: 'label' }, q.label) : null,
    why,
    panel);
}

function whyContent(item, q) {
  const out = [h('p', { class: 'why-head' }, h('span', { class: `chip reason-${q.reason}` }, REASONS[q.reason] ?? q.reason), ' ', q.explanation)];
  if (!app.pricer) {
    out.push(h('p', { class: 'muted' }, app.engine === 'loading' ? 'The pricing engine is still loading.' : 'The pricing engine is not available here.'));
    return out;
  }
  const ex = app.pricer.explain(item.id);
  if (ex.interest !== null) {
    out.push(h('p', {}, 'Estimated interest: ', h('b', {}, `${(ex.interest * 100).toFixed(1)} %`),
      ' — the model\u2019s chance that this visit ends in a purchase. The more likely you are to buy anyway, the smaller the discount.'));
  }
  // What the model read from this device, in the spec's units (raw), largest model inputs first.
  const top = ex.features.filter((f) => f.value !== 0).sort((a, b) => Math.abs(b.value) - Math.abs(a.value)).slice(0, 5);
  if (top.length) {
    // Indicator features (unit "0/1") read as yes/no; the rest show the measured value and its unit.
    const shown = (f) => f.unit === '0/1' ? (f.value ? 'yes' : 'no')
      : `${Number.isInteger(f.raw) ? f.raw : f.raw.toFixed(2)} ${f.unit}`;
    out.push(h('p', { class: 'why-sub' }, 'Strongest model inputs from this device:'),
      h('ul', { class: 'features' }, top.map((f) => h('li', {}, h('span', {}, f.meaning), h('b', {}, shown(f))))));
  }
  if (ex.bounds) {
    out.push(h('p', { class: 'muted' }, `Store rules: at most ${ex.bounds.cap} % off this item, never below its cost plus a margin.`));
  }
  return out;
}

function card(item) {
  const q = quoteFor(item);
  const href = `#/product/${encodeURIComponent(item.id)}`;
  return productEl('article', item, q, { class: 'card' },
    h('a', { href, class: 'art', 'aria-label': item.name }, productArt(item)),
    h('div', { class: 'card-body' },
      h('p', { class: 'kicker' }, categoryName(item)),
      h('h3', {}, h('a', { href }, item.name)),
      priceBlock(item, q)));
}

function catalogView() {
  const shelves = Object.entries(app.catalog.categories).map(([cat, title]) => {
    const items = app.catalog.products.filter((p) => p.category === cat);
    return h('section', { class: 'shelf' },
      h('h2', {}, title, cat === 'luxury' ? h('span', { class: 'note' }, 'always list price') : null),
      h('div', { class: 'grid' }, items.map(card)));
  });
  return h('div', {},
    h('section', { class: 'hero' },
      h('h1', {}, 'Good things, fairly priced — on your device.'),
      h('p', {}, 'Every price here is computed in your browser by pricelet, from what you do on this site. Your browsing never leaves this device. ',
        h('a', { href: '#/about' }, 'How it works'), ' · ', h('a', { href: '#/privacy' }, 'Your data'))),
    shelves);
}

function productView({ item }) {
  const q = quoteFor(item);
  const related = app.catalog.products.filter((p) => p.category === item.category && p.id !== item.id);
  return h('div', {},
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Shop'), ' / ', categoryName(item)),
    productEl('article', item, q, { class: 'product' },
      h('div', { class: 'art big-art' }, productArt(item)),
      h('div', { class: 'detail' },
        h('p', { class: 'kicker' }, categoryName(item)),
        h('h1', {}, item.name),
        h('p', { class: 'blurb' }, item.blurb ?? ''),
        priceBlock(item, q, { big: true }),
        h('div', { class: 'buy' },
          h('button', { class: 'add-to-cart primary', type: 'button', onclick: () => addToCart(item) }, 'Add to cart'),
          app.cart[item.id] ? h('a', { href: '#/cart', class: 'in-cart' }, `${app.cart[item.id]} in your cart`) : null))),
    related.length ? h('section', { class: 'shelf' }, h('h2', {}, `More ${categoryName(item).toLowerCase()}`), h('div', { class: 'grid' }, related.map(card))) : null);
}

function cartView() {
  const lines = cartLines();
  if (!lines.length) {
    return h('div', { class: 'page narrow' }, h('h1', {}, 'Your cart'),
      h('p', { class: 'empty' }, 'Your cart is empty. ', h('a', { href: '#/' }, 'Browse the shop')));
  }
  return h('div', { class: 'page narrow' },
    h('h1', {}, 'Your cart'),
    h('div', { class: 'lines' }, lines.map(({ item, quantity, quote }) => productEl('div', item, quote, { class: 'line' },
      h('a', { href: `#/product/${encodeURIComponent(item.id)}`, class: 'art thumb', 'aria-label': item.name }, productArt(item)),
      h('div', { class: 'line-main' },
        h('h3', {}, h('a', { href: `#/product/${encodeURIComponent(item.id)}` }, item.name)),
        h('p', { class: 'muted' }, `Quantity ${quantity}`),
        priceBlock(item, quote)),
      h('div', { class: 'line-side' },
        h('p', { class: 'line-total' }, money(minorToMajor(quote.priceMinor * quantity, quote.currency), quote.currency)),
        h('button', { class: 'remove-from-cart link', type: 'button', onclick: () => removeFromCart(item) }, 'Remove'))))),
    h('div', { class: 'summary' },
      totals(lines).map(([currency, minor]) => h('p', { class: 'total' }, h('span', {}, `Total (${currency})`), h('b', {}, money(minorToMajor(minor, currency), currency)))),
      h('div', { class: 'actions' }, h('a', { href: '#/', class: 'button' }, 'Keep shopping'), h('a', { href: '#/checkout', class: 'button primary' }, 'Checkout'))));
}

function checkoutView() {
  if (app.order) {
    const { items, sums } = app.order;
    return h('div', { class: 'page narrow' }, h('h1', {}, 'Thank you!'),
      h('p', { class: 'done', id: 'order-done' }, `Order placed: ${items} item(s), ${sums.map(([c, m]) => money(minorToMajor(m, c), c)).join(' + ')}.`),
      h('p', {}, h('a', { href: '#/' }, 'Back to the shop')));
  }
  const lines = cartLines();
  if (!lines.length) return h('div', { class: 'page narrow' }, h('h1', {}, 'Checkout'), h('p', { class: 'empty' }, 'Nothing to check out yet. ', h('a', { href: '#/' }, 'Browse the shop')));
  const canCheck = Boolean(app.lib && app.pricer);
  // What the page would POST: the quote's checkout fields per line — never interest, explanation or behaviour.
  const body = canCheck ? { lines: lines.map(({ quote, quantity }) => ({ quantity, quote: app.lib.toCheckout(quote) })) } : null;
  const verifyPre = h('pre', { id: 'verify-result', class: 'json', dataset: { state: canCheck ? 'pending' : 'unavailable' } }, canCheck ? 'verifying…' : 'pricelet is not loaded: nothing to verify.');
  const placeBtn = h('button', { id: 'place-order', class: 'primary', type: 'button', disabled: canCheck, onclick: () => placeOrder(lines) }, 'Place order');
  const marks = lines.map(() => h('span', { class: 'mark' }, canCheck ? '…' : '—'));
  if (canCheck) {
    // The store's server re-checks each posted quote against its OWN catalog item. The demo's
    // "server" shares the page clock (the tests run that clock in the future).
    Promise.all(body.lines.map(({ quote, quantity }, i) => app.lib.verifyQuote(quote, lines[i].item, null, { now: clock(), quantity })))
      .then((results) => {
        const out = results.map((r, i) => ({ itemId: lines[i].item.id, ok: r.ok, problems: r.problems }));
        verifyPre.textContent = JSON.stringify(out, null, 2);
        verifyPre.dataset.state = out.every((r) => r.ok) ? 'ok' : 'failed';
        out.forEach((r, i) => { marks[i].textContent = r.ok ? '✓ verified' : '✗ rejected'; marks[i].className = r.ok ? 'mark ok' : 'mark bad'; });
        placeBtn.disabled = !out.every((r) => r.ok);
      })
      .catch((e) => { verifyPre.textContent = `verification failed: ${e.message}`; verifyPre.dataset.state = 'error'; console.error(e); });
  }
  return h('div', { class: 'page narrow' },
    h('h1', {}, 'Checkout'),
    h('div', { class: 'lines compact' }, lines.map(({ item, quantity, quote }, i) => productEl('div', item, quote, { class: 'line' },
      h('div', { class: 'line-main' }, h('h3', {}, `${item.name} × ${quantity}`), priceBlock(item, quote)),
      h('div', { class: 'line-side' }, h('p', { class: 'line-total' }, money(minorToMajor(quote.priceMinor * quantity, quote.currency), quote.currency)), marks[i])))),
    h('div', { class: 'summary' }, totals(lines).map(([currency, minor]) => h('p', { class: 'total' }, h('span', {}, `Total (${currency})`), h('b', {}, money(minorToMajor(minor, currency), currency)))),
      h('div', { class: 'actions' }, placeBtn)),
    h('section', { class: 'panel' },
      h('h2', {}, 'What your browser sends'),
      h('p', { class: 'muted' }, 'toCheckout(quote) for each line: the price and the ids needed to check it. Your interest score, the explanation and your browsing stay here.'),
      h('pre', { id: 'checkout-payload', class: 'json' }, body ? JSON.stringify(body, null, 2) : 'pricelet is not loaded: the server would charge list prices.')),
    h('section', { class: 'panel' },
      h('h2', {}, 'What the server checks'),
      h('p', { class: 'muted' }, 'verifyQuote(payload, catalogItem) against the store\u2019s own catalog: the hash, the policy\u2019s limits, the price endings, the expiry and the quantity.'),
      verifyPre));
}

function aboutView() {
  const qa = [
    ['Where is my price computed?', 'In this browser tab. pricelet is a WebAssembly library that runs a small interest model and the store\u2019s pricing rules on your device. The store\u2019s server never sees how you browsed.'],
    ['What does it look at?', 'Only what you do on this site: which kinds of pages you open, for how long, what goes in and out of your cart, and purchases — plus public per-page figures the store ships with each page.'],
    ['Why would my price differ from someone else\u2019s?', 'The model estimates how likely this visit is to end in a purchase. Shoppers who are unlikely to buy anyway may be offered a discount, within the store\u2019s limits: never more than 20 % (10 % on electronics), never below cost plus a margin, and never on the luxury collection.'],
    ['How do I know a price is personalized?', 'A personalized price carries a label, and "Why this price?" shows the reason, your estimated interest and the inputs behind it.'],
    ['What is stored, and for how long?', 'With your consent, your browsing events and a random id stay in this browser\u2019s local storage for 30 days. If you decide later, they are kept only until you close the page. If you decline, nothing is recorded and everyone pays list price.'],
    ['What about Global Privacy Control?', 'If your browser sends GPC, personalization is off and nothing is recorded, whatever the consent banner says.'],
    ['What leaves my device?', 'At checkout, only the quote needed to charge you the price you saw: item, price, policy and model versions, expiry and a hash the server re-checks.'],
  ];
  return h('div', { class: 'page narrow' },
    h('h1', {}, 'About this store'),
    h('p', { class: 'lede' }, 'Atelier pricelet is a demo storefront for pricelet, on-device personalized pricing you can inspect.'),
    h('div', { class: 'faq' }, qa.map(([q, a]) => h('details', {}, h('summary', {}, q), h('p', {}, a)))));
}

function privacyView() {
  const p = app.pricer;
  const consentNames = { granted: 'Allowed: kept on this device', unknown: 'This visit only', denied: 'Not allowed: list prices' };
  const data = p ? p.exportData() : null;
  const gpc = gpcOn();
  return h('div', { class: 'page narrow' },
    h('h1', {}, 'Your data & privacy'),
    h('section', { class: 'panel' },
      h('h2', {}, 'Personalized prices'),
      h('p', {}, 'Status: ', h('b', { id: 'personalization-status' }, personalizationOn() ? 'on' : 'off'),
        ` · consent: `, h('b', { id: 'consent-status' }, app.consent.value)),
      h('div', { class: 'segmented', role: 'group', 'aria-label': 'Consent' },
        ['granted', 'unknown'].map((c) => h('button', { type: 'button', 'data-set-consent': c, 'aria-pressed': String(app.consent.value === c), onclick: () => setConsent(c) }, consentNames[c])),
        h('button', { id: 'opt-out', type: 'button', 'data-set-consent': 'denied', 'aria-pressed': String(app.consent.value === 'denied'), onclick: () => setConsent('denied') }, 'Opt out of personalization'))),
    h('section', { class: 'panel' },
      h('h2', {}, 'Global Privacy Control'),
      h('p', { id: 'gpc-status', dataset: { gpc: String(gpc) } }, gpc
        ? 'On: your browser sends GPC, so personalization is off and nothing is recorded.'
        : 'Off: your browser does not send a GPC signal.')),
    h('section', { class: 'panel' },
      h('h2', {}, 'What is stored about you'),
      p ? h('p', { class: 'muted' }, `Where: ${data.persistence === 'storage' ? 'this browser\u2019s localStorage' : data.persistence === 'memory' ? 'this page\u2019s memory (gone when you close it)' : 'nowhere'} · ${data.state?.events.length ?? 0} event(s) · ${data.storedBytes} bytes. This is exactly what pricelet keeps:`) : null,
      h('pre', { id: 'stored-data', class: 'json' }, p ? JSON.stringify(data, null, 2) : 'pricelet is not loaded: nothing is stored.'),
      h('div', { class: 'actions' }, h('button', { id: 'forget', class: 'danger', type: 'button', disabled: !p, onclick: forgetMe }, 'Forget me')),
      h('p', { class: 'muted small' }, 'The store itself also keeps your consent choice (localStorage "demo:consent") and this tab\u2019s cart (sessionStorage).')));
}

const VIEWS = { catalog: catalogView, product: productView, cart: cartView, checkout: checkoutView, about: aboutView, privacy: privacyView };

function renderChrome() {
  const count = Object.values(app.cart).reduce((n, q) => n + q, 0);
  document.getElementById('cart-count').textContent = String(count);
  const status = document.getElementById('engine-status');
  status.textContent = app.engine === 'ready'
    ? (personalizationOn() ? 'On-device pricing · personalized' : 'On-device pricing · list prices')
    : app.engine === 'loading' ? 'Loading the pricing engine…' : 'Pricing engine unavailable · list prices';
  status.dataset.state = app.engine;
  const banner = document.getElementById('consent-banner');
  banner.hidden = app.consent.decided;
  document.getElementById('gpc-note').hidden = !gpcOn();
  const view = route().view;
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === view);
}

function render() {
  document.getElementById('main').replaceChildren(VIEWS[route().view](route()));
  renderChrome();
  document.body.dataset.rendered = String(++app.renders);
}

// ---------- start ----------

/** Lets the browser run what waits (input, paint) before the next step. */
function yieldToPage() {
  if (globalThis.scheduler?.yield) return globalThis.scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function start() {
  for (const b of document.querySelectorAll('[data-consent]')) b.addEventListener('click', () => setConsent(b.dataset.consent));
  // Dynamic, so the shop still sells at catalog prices if the library cannot load. Awaited (beside
  // the catalog, not the engine) before the first render: its small synchronous part reads the
  // prices this shopper was shown on other pages (quoteBeforeReady), so no price changes later.
  const loadingLib = import('pricelet').catch((e) => { console.warn('pricelet did not load; showing catalog prices.', e.message); return null; });
  const [catalog, lib] = await Promise.all([fetch(new URL('catalog.json', import.meta.url)).then((r) => r.json()), loadingLib]);
  performance.mark('pricelet:imported');
  app.lib = lib;
  app.catalog = catalog;
  for (const p of catalog.products) app.byId.set(p.id, p);
  window.addEventListener('hashchange', onRoute);
  window.addEventListener('pagehide', leavePage);
  window.addEventListener('pageshow', (e) => { if (e.persisted) { enterPage(); render(); } });
  enterPage();
  app.engine = lib ? 'loading' : 'unavailable';
  if (lib && catalog.products.length > 0) {
    // The package's first call compiles its small list-price module's code: in a task of its own,
    // not inside the page's first render (no long task made of both).
    quoteFor(catalog.products[0]);
    await yieldToPage();
  }
  render(); // prices already shown to this shopper, or list prices, while the engine loads
  performance.mark('pricelet:list-prices'); // read by bench/first-visit.mjs
  if (lib) {
    try {
      const pricer = await lib.createPricer({
        consent: app.consent.value,
        ...(TEST ? { anonId: TEST.anonId, stabilityTtlMs: TEST.stabilityTtlMs, now: clock } : {}),
      });
      performance.mark('pricelet:engine-ready');
      await yieldToPage();
      // A price on screen never changes in front of the shopper: the list prices shown while the
      // engine loaded stay for the stability window, on this page and the next. Adopted before the
      // page prices through the pricer.
      for (const { item, quote } of app.shownEarly.values()) if (quote) pricer.adoptQuote(item, quote);
      app.shownEarly.clear();
      app.pricer = pricer;
      app.engine = 'ready';
      // A consent given while the engine loaded (the pricer was created with the one before it).
      if (pricer.status.consent !== app.consent.value) pricer.setConsent(app.consent.value);
      for (const ev of app.pending.splice(0)) app.pricer.track(ev);
      await yieldToPage(); // the page's re-render in its own task
    } catch (e) {
      app.engine = 'unavailable';
      console.error('pricelet could not start:', e);
    }
  }
  render();
  // For the end-to-end tests and the curious: the page's pricer and the package it imported.
  window.__demo = { pricer: app.pricer, lib: app.lib, catalog, ready: true, rerender: render };
}

start();
