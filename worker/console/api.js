// The Worker's own endpoints, always on this page's origin, always with the admin token.
const KEY = 'pricelet-admin-token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  forget: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    Object.assign(this, { status, code });
  }
}

/** JSON from `path` (same origin, no HTTP cache: a stop shows at once), or an ApiError with the Worker's code. */
export async function api(path, { method = 'GET' } = {}) {
  const res = await fetch(path, { method, cache: 'no-store', credentials: 'omit', headers: { authorization: `Bearer ${token.get()}` } });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body?.code ?? 'http_error', body?.message ?? `HTTP ${res.status}`);
  return body;
}

/** Every entry of the audit log, oldest first (it pages by `next`). */
export async function wholeLog() {
  const entries = [];
  for (let after = 0; ;) {
    const page = await api(`/policy/log?after=${after}`);
    entries.push(...page.entries);
    if (page.next === null || page.next === undefined) return entries;
    after = page.next;
  }
}

/** Everything the console shows, read in one go; the status first, so a refused token reads nothing else. */
export async function loadAll() {
  const status = await api('/policy/status');
  const [log, estimates] = await Promise.all([
    wholeLog(),
    api('/estimates').catch((e) => {
      if (e instanceof ApiError && (e.code === 'no_reports' || e.code === 'reporting_off')) return { missing: e };
      throw e;
    }),
  ]);
  return { status, log, estimates };
}
