// The public API, as the studio calls it. Auth is the HttpOnly rv_access cookie the
// server sets (SameSite=Strict); an expired access token is refreshed once, silently,
// with the rv_refresh cookie, then the call is made again.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || 'http_error';
    this.problem = problem;
    this.fields = {};
    for (const e of problem.errors || []) this.fields[e.field] = e.message;
    this.retryAfter = problem.retryAfter;
  }
}

let refreshing = null;

// A spent refresh token presented again ends the session (API.md), so the tabs of
// one browser refresh one at a time: each under the same Web Lock, each sending the
// cookie as it is once the lock is theirs (a tab that waited sends the token the
// one before it was given).
function rotate() {
  const go = () => fetch('/api/auth/refresh', { method: 'POST', credentials: 'same-origin' })
    .then((r) => r.ok)
    .catch(() => false);
  return navigator.locks ? navigator.locks.request('rv-refresh', go) : go();
}

async function refresh() {
  if (!refreshing) {
    refreshing = rotate()
      .finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  }
  return refreshing;
}

async function problemOf(res) {
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) {
    try { return await res.json(); } catch { /* fall through */ }
  }
  return { status: res.status, title: res.statusText };
}

// call('GET', '/api/me') → parsed JSON (or null for 204); throws ApiError.
// opts: {body (object → JSON, Blob/File → raw), headers, raw (return the Response),
//        etag (sends If-None-Match; a 304 answers {notModified: true})}
export async function call(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers['Content-Type'] = body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  if (opts.etag) headers['If-None-Match'] = opts.etag;
  const go = () => fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  let res = await go();
  if (res.status === 401 && !path.startsWith('/api/auth/')) {
    const p = await problemOf(res.clone());
    if (p.code === 'token_expired' || p.code === 'unauthorized') {
      if (await refresh()) res = await go();
    }
  }
  if (res.status === 304) return { notModified: true };
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  if (opts.raw) return res;
  if (res.status === 204) return null;
  const data = await res.json();
  const etag = res.headers.get('etag');
  if (etag && data && typeof data === 'object') Object.defineProperty(data, '_etag', { value: etag });
  return data;
}

// Uploads a file with a progress callback (fetch has no upload progress).
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', path);
    x.withCredentials = true;
    x.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    x.setRequestHeader('Accept', 'application/json');
    x.upload.onprogress = (e) => { if (e.lengthComputable) onProgress?.(Math.round((100 * e.loaded) / e.total)); };
    x.onload = () => {
      let data = {};
      try { data = JSON.parse(x.responseText || '{}'); } catch { /* keep {} */ }
      if (x.status >= 200 && x.status < 300) resolve(data);
      else reject(new ApiError(x.status, data));
    };
    x.onerror = () => reject(new ApiError(0, { detail: 'the network failed; try again' }));
    x.send(file);
  });
}

// Polls a job until it ends, with backoff (1 s growing to 5 s), using ETags so an
// unchanged job costs a 304. onUpdate sees every new state.
export async function waitJob(id, onUpdate, signal) {
  let delay = 700;
  let etag;
  let job;
  for (;;) {
    if (signal?.aborted) return job;
    const r = await call('GET', `/api/jobs/${id}`, undefined, { etag });
    if (!r.notModified) {
      job = r;
      etag = r._etag;
      onUpdate?.(job);
      if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    }
    await new Promise((ok) => setTimeout(ok, delay));
    delay = Math.min(5000, Math.round(delay * 1.4));
  }
}

// Words a person understands for an API error.
export function explain(err) {
  if (!(err instanceof ApiError)) return 'Something went wrong. Please try again.';
  switch (err.code) {
    case 'insufficient_credits':
      return `Not enough credits: this needs ${err.problem.required}, you have ${err.problem.balance}.`;
    case 'rate_limited':
      return `Too many attempts. Try again in ${err.retryAfter || 'a few'} seconds.`;
    case 'invalid_credentials':
      return 'That email and password do not match an account.';
    case 'email_taken':
      return 'An account with this email already exists. Sign in instead.';
    case 'validation_failed':
      return 'Please correct the highlighted fields.';
    case 'payload_too_large':
      return 'That file is too large.';
    case 'unsupported_media_type':
      return 'That file type is not supported.';
    case 'unprocessable':
      return err.message || 'That file could not be used.';
    case 'provider_unavailable':
      return 'This feature is not available right now.';
    case 'unavailable':
      return 'The service is briefly unavailable. Please try again.';
    case 'voice_expired':
      return 'This cloned voice has expired. Clone it again to use it.';
    default:
      return err.message || 'Something went wrong. Please try again.';
  }
}
