// A careful client of the Painline API. The access token lives in this
// module's memory only, never in the browser's storage; the refresh token
// is a cookie no script can read (HttpOnly), sent only to the refresh and
// sign-out routes and honoured only with the X-Painline-Session header,
// which a cross-site form cannot send. A reload resumes the session with it.
// One refresh runs at a time and every caller waits for it; a refresh the
// server refuses ends the session once, with a message, and never loops.

const JSON_TYPE = "application/json";
/** Asks for the refresh token as a cookie, and for the cookie to be used. */
const COOKIE_SESSION = { "X-Painline-Session": "cookie" };
/** Refresh this long before the access token runs out. */
const EARLY_MS = 60_000;

export class ApiError extends Error {
  constructor(status, message, problem = null, retryAfter = null) {
    super(message);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** Field errors of a 400/422 answer: `[{field, message}]`. */
  get fields() {
    return (this.problem && this.problem.errors) || [];
  }
}

/** What the therapist is told for each kind of refusal. */
function explain(status, problem, retryAfter) {
  switch (status) {
    case 401: return "Your session has ended. Please sign in again.";
    case 403: return "This account may not do that: the dashboard is for therapists.";
    case 404: return "Not found: this patient is not linked to you (any more), or the item is gone.";
    case 409: return (problem && problem.detail) || "That conflicts with what is stored.";
    case 412: return "Someone changed this in the meantime. The latest version has been loaded; check it and try again.";
    case 413: return "That is too large to send.";
    case 429: return `Too many attempts. Try again in ${retryAfter || "a few"} seconds.`;
    case 503: return "The service is unavailable right now. Try again in a moment.";
    default:
      if (problem && problem.detail) return problem.detail;
      return status >= 500 ? "Something went wrong on the server. Try again." : `The request was refused (${status}).`;
  }
}

async function failure(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    problem = null;
  }
  const retryAfter = response.headers.get("Retry-After");
  return new ApiError(response.status, explain(response.status, problem, retryAfter), problem, retryAfter);
}

function offline() {
  return new ApiError(0, "The service cannot be reached. Check the connection and try again.");
}

export class Api {
  constructor(base = "/v1") {
    this.base = base;
    this.session = null;
    /** The signed-in user (`GET /v1/me`), for "recorded by you". */
    this.user = null;
    this.refreshing = null;
    /** Called once when the session ends against the user's will. */
    this.onSessionEnd = () => {};
    /** Called with true/false as requests start and finish. */
    this.onBusy = () => {};
    this.inFlight = 0;
  }

  get signedIn() {
    return this.session !== null;
  }

  keep(tokens) {
    this.session = {
      access: tokens.access_token,
      expiresAt: Date.now() + tokens.expires_in * 1000,
    };
  }

  /** A POST of the session routes, with the cookie header (and a JSON body, if any). */
  async post(path, body) {
    const headers = { Accept: JSON_TYPE, ...COOKIE_SESSION };
    if (body !== undefined) headers["Content-Type"] = JSON_TYPE;
    try {
      return await fetch(this.base + path, {
        method: "POST",
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw offline();
    }
  }

  async signIn(email, password) {
    const response = await this.post("/auth/login", { email, password });
    if (!response.ok) {
      if (response.status === 401) throw new ApiError(401, "Unknown e-mail or wrong password.");
      throw await failure(response);
    }
    const body = await response.json();
    this.keep(body.tokens);
    this.user = body.user;
    return body.user;
  }

  /** After a reload: the session the cookie still holds, as its user; null without one. */
  async resume() {
    const response = await this.post("/auth/refresh");
    if (response.status !== 200) return null;
    this.keep((await response.json()).tokens);
    try {
      this.user = await this.get("/me");
    } catch (error) {
      this.session = null;
      throw error;
    }
    return this.user;
  }

  /** Ends the session here and on the server (best effort); the cookie is cleared. */
  async signOut() {
    this.session = null;
    this.user = null;
    try {
      await this.post("/auth/logout");
    } catch {
      // Gone from memory; the server ends the login when the refresh token expires.
    }
  }

  end(message) {
    if (this.session === null) return;
    this.session = null;
    this.onSessionEnd(message);
  }

  /** One refresh at a time: concurrent callers share the one in flight. */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.rotate().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async rotate() {
    const session = this.session;
    if (!session) throw new ApiError(401, explain(401));
    const response = await this.post("/auth/refresh");
    if (response.status === 200) {
      const body = await response.json();
      if (this.session === session) this.keep(body.tokens);
      return;
    }
    const error = await failure(response);
    if (response.status === 204 || response.status === 400 || response.status === 401) {
      this.end(explain(401));
      throw new ApiError(401, explain(401));
    }
    throw error;
  }

  async send(method, path, { body, ifMatch, ifNoneMatch, idempotencyKey, accept = JSON_TYPE } = {}) {
    const headers = { Accept: accept, Authorization: `Bearer ${this.session.access}` };
    if (body !== undefined) headers["Content-Type"] = JSON_TYPE;
    if (ifMatch) headers["If-Match"] = ifMatch;
    if (ifNoneMatch) headers["If-None-Match"] = ifNoneMatch;
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    try {
      return await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw offline();
    }
  }

  /** A request with the access token, refreshed first when it is about to run out. */
  async request(method, path, options = {}) {
    this.onBusy(++this.inFlight > 0);
    try {
      if (!this.session) throw new ApiError(401, explain(401));
      if (this.session.expiresAt - Date.now() < EARLY_MS) await this.refresh();
      const used = this.session.access;
      let response = await this.send(method, path, options);
      if (response.status === 401 && this.session) {
        // Refresh unless another request already did, then try once more.
        if (this.session.access === used) await this.refresh();
        response = await this.send(method, path, options);
        if (response.status === 401) {
          this.end(explain(401));
          throw new ApiError(401, explain(401));
        }
      }
      if (!response.ok) throw await failure(response);
      return response;
    } finally {
      this.onBusy(--this.inFlight > 0);
    }
  }

  /** `{body, etag}` of a JSON answer (body null for 204). */
  async json(method, path, options = {}) {
    const response = await this.request(method, path, options);
    const body = response.status === 204 ? null : await response.json();
    return { body, etag: response.headers.get("ETag") };
  }

  get(path) {
    return this.json("GET", path).then((r) => r.body);
  }

  /** Every page of a list answered as `{items, next_cursor}`. */
  async all(path, most = 50) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < most; page += 1) {
      const sep = path.includes("?") ? "&" : "?";
      const url = cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path;
      const body = await this.get(url);
      items.push(...body.items);
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  /** A binary answer (the chart) as a blob. */
  async blob(path, accept) {
    const response = await this.request("GET", path, { accept });
    return response.blob();
  }

  /** A download: the blob and the file name the server gave it. */
  async download(path, accept) {
    const response = await this.request("GET", path, { accept });
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || "painline-export";
    return { blob: await response.blob(), name };
  }
}
