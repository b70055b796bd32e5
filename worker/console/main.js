// The merchant console: asks for the admin token once (kept in this tab's session storage), reads
// the Worker's endpoints with it, and draws each section. A refused token shows no data at all.
import 'uplot/dist/uPlot.min.css';
import './console.css';
import { ApiError, api, loadAll, token } from './api.js';
import { fill, h, note } from './dom.js';
import { beta } from './format.js';
import { renderLoop } from './learning.js';
import { renderCost, renderReadout } from './readout.js';
import { renderVersions } from './versions.js';

const $ = (id) => document.getElementById(id);

function say(text) {
  $('status-line').textContent = text;
}

function signedOut(message) {
  token.forget();
  $('data').hidden = true;
  for (const s of $('data').querySelectorAll('.body')) s.replaceChildren();
  $('sign-in').hidden = false;
  $('refresh').hidden = true;
  $('sign-out').hidden = true;
  const err = $('token-error');
  err.hidden = !message;
  err.textContent = message ?? '';
  say(message ? 'No data: the token was not accepted.' : '');
  $('token').value = '';
  $('token').focus();
}

/** Asks before the kill switch moves; resolves true on the confirming button only. */
function confirmDialog(title, text, ok) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = ok;
  return new Promise((resolve) => {
    const done = (answer) => () => { cleanup(); dialog.close(); resolve(answer); };
    const yes = done(true);
    const no = done(false);
    const cancel = () => { cleanup(); resolve(false); };
    const cleanup = () => {
      $('confirm-ok').removeEventListener('click', yes);
      $('confirm-cancel').removeEventListener('click', no);
      dialog.removeEventListener('cancel', cancel);
    };
    $('confirm-ok').addEventListener('click', yes);
    $('confirm-cancel').addEventListener('click', no);
    dialog.addEventListener('cancel', cancel); // Escape
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

async function flip(action, status) {
  const base = status.baseVersion;
  const ok = action === 'stop'
    ? await confirmDialog('Stop the learning loop?', `Your base policy ${base} is served again at once (β = ${beta(status.basePolicyBeta)}); quotes already shown keep verifying through their grace period. Proposals change nothing until you resume.`, 'Stop the loop')
    : await confirmDialog('Resume the learning loop?', `Proposals change the served policy again, starting from ${status.policy.version} (β = ${beta(status.policy.strategy?.beta)}): β moves one bounded step per proposer run, and only on enough evidence.`, 'Resume the loop');
  if (!ok) return;
  try {
    const result = await api(`/policy/${action}`, { method: 'POST' });
    await load(`${action === 'stop' ? 'Stopped' : 'Resumed'}: serving ${result.version}.`);
  } catch (e) {
    failed(e);
  }
}

function renderControl(status, log) {
  const p = status.policy;
  const start = log.findLast((e) => e.action === 'start' || e.action === 'new_base');
  status.basePolicyBeta = start?.policy?.version === status.baseVersion ? start.policy.strategy?.beta : null;
  if (!p.learning) {
    return fill('control', note('off', `The loop is off: policy ${p.version} has no "learning" section. Deploy a policy with one (policy/learning.json) as PRICELET_POLICY to learn β; nothing here can change prices until then.`));
  }
  const state = status.stopped
    ? h('p', { class: 'switch stopped', dataset: { figure: 'loop-state', value: 'stopped' } }, h('strong', {}, 'Stopped'), ` — the kill switch is on: your base policy ${status.baseVersion} is served and proposals change nothing.`)
    : h('p', { class: 'switch running', dataset: { figure: 'loop-state', value: 'running' } }, h('strong', {}, 'Running'), ` — serving ${p.version} (β = ${beta(p.strategy?.beta)}); the proposer runs every 6 hours.`);
  const button = status.stopped
    ? h('button', { type: 'button', id: 'resume', onclick: () => flip('resume', status) }, 'Resume the loop…')
    : h('button', { type: 'button', id: 'stop', class: 'danger', onclick: () => flip('stop', status) }, 'Stop the loop…');
  const hint = status.stopped
    ? note('info', 'Resuming does not bring back the β the loop had reached: it goes on from the served policy, one bounded step per run.')
    : p.learning.enabled === false ? note('off', 'learning.enabled is false in the deployed policy: runs are logged as "stopped".') : null;
  return fill('control', state, button, hint);
}

function failed(e) {
  if (e instanceof ApiError && e.status === 401) return signedOut('The Worker refused this token (401): it is not this Worker\'s PRICELET_ADMIN_TOKEN. No data is shown.');
  if (e instanceof ApiError && e.code === 'admin_token_missing') return signedOut(`${e.message}. No data is shown.`);
  say(`Could not read the Worker: ${e.message}`);
  return null;
}

async function load(message) {
  say('Loading…');
  let all;
  try {
    all = await loadAll();
  } catch (e) {
    return failed(e);
  }
  const { status, log, estimates } = all;
  $('sign-in').hidden = true;
  $('token-error').hidden = true;
  $('data').hidden = false;
  $('refresh').hidden = false;
  $('sign-out').hidden = false;
  renderControl(status, log);
  renderReadout(estimates, status.policy);
  renderCost(estimates, status.policy);
  renderLoop(log, status);
  renderVersions(log, status);
  say(message ?? `Read at ${new Date(status.now).toLocaleTimeString('en-GB')}: policy ${status.policy.version}${status.stopped ? ', loop stopped' : ''}.`);
  return all;
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('token').value.trim();
  if (!value) return;
  token.set(value);
  $('token').value = '';
  load();
});
$('refresh').addEventListener('click', () => load());
$('sign-out').addEventListener('click', () => signedOut(null));

if (token.get()) load();
else signedOut(null);
