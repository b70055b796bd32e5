// The merchant console: GET /console is a static page (HTML, one script, one style sheet) that
// scripts/console.mjs builds from worker/console/ into the Worker's bundle. The page reads the
// Worker's own JSON endpoints with the admin token the merchant types in; its CSP lets it load and
// send nothing anywhere else (no CDN, no other origin, no inline script or style).
import { FILES } from '../dist/console/files.js';
import { HttpError, allow } from './http.js';

const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

/** One of the console's files, with an ETag of its bytes (no-cache: a new build shows at once). */
export async function consoleFile(request) {
  allow(request, 'GET');
  const file = FILES[new URL(request.url).pathname];
  if (!file) throw new HttpError(404, 'not_found', `the console's files are ${Object.keys(FILES).join(', ')}`);
  const headers = {
    'content-type': file.type, etag: file.etag, 'cache-control': 'no-cache',
    'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY',
  };
  const match = (request.headers.get('if-none-match') ?? '').split(',').map((t) => t.trim());
  if (match.includes(file.etag)) return new Response(null, { status: 304, headers });
  return new Response(file.body, { status: 200, headers });
}
