// go-jwt demo front end: plain browser JavaScript, no build step, no
// framework.
//
// Tokens: the access token lives in this closure only, never in
// localStorage or sessionStorage, so a script injected later cannot read it
// back; the refresh token is an HttpOnly cookie (REFRESH_COOKIE=on) that no
// script can read at all. A 401 triggers one silent refresh and one retry.
//
// Refreshes are serialized across tabs with the Web Locks API: the server
// rotates the refresh token on every refresh and treats a rotated-away token
// as stolen (it revokes the session), so two tabs sharing the cookie must
// never present it at once. A tab that refreshed tells the others the new
// access token (BroadcastChannel, same origin only, never stored), so a tab
// that waited for the lock finds the work done and skips its own refresh:
// otherwise its refresh would rotate away the token the first tab is about
// to retry with.
'use strict';

(() => {
  const LOCK = 'go-jwt-refresh';
  const HANDOFF_MS = 250;
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('go-jwt') : null;

  let accessToken = null; // memory only
  let refreshing = null; // this tab's refresh in flight

  const $ = (id) => document.getElementById(id);
  const ui = {
    loading: $('loading'),
    error: $('error'),
    notice: $('notice'),
    auth: $('auth'),
    form: $('login-form'),
    username: $('username'),
    password: $('password'),
    loginBtn: $('login-btn'),
    registerBtn: $('register-btn'),
    app: $('app'),
    welcome: $('welcome'),
    binding: $('binding'),
    sessions: $('sessions'),
    admin: $('admin'),
    users: $('users').querySelector('tbody'),
    moreUsers: $('more-users'),
  };
  let me = null; // the signed-in user's name, from /user/me
  let usersCursor = ''; // nextCursor of the last page of users shown

  // An answer of the API that the page shows to a person. shown: the page
  // already reacted (signed out), nothing more to say.
  class ApiError extends Error {
    constructor(status, code, message, shown = false) {
      super(message);
      this.status = status;
      this.code = code;
      this.shown = shown;
    }
  }

  const api = apiBase();
  $('api-base').textContent = api;

  // apiBase is this page's origin, or ?api=<base> for a front end served
  // apart from the API. Only a loopback API may be chosen from the address
  // bar: anything else would let a link send the credentials typed here to
  // a server of the link author's choosing.
  function apiBase() {
    const wanted = new URLSearchParams(location.search).get('api');
    if (!wanted) return location.origin;
    try {
      const u = new URL(wanted);
      const loopback = u.hostname === 'localhost' || u.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(u.hostname);
      if ((u.protocol === 'http:' || u.protocol === 'https:') && loopback) {
        return u.origin + u.pathname.replace(/\/+$/, '');
      }
    } catch {
      // not a URL: fall through
    }
    showError(new ApiError(0, 'bad_api', `Ignoring ?api=${wanted}: only a loopback address can be chosen here`));
    return location.origin;
  }

  // send makes one request; every request carries credentials so the
  // refresh cookie travels to the API even from another origin, and a DPoP
  // proof of this browser's key (dpop.js), which also writes the token's
  // Authorization header.
  async function send(path, { method = 'GET', body, token, headers = {} } = {}) {
    const h = { ...headers };
    let payload;
    if (body !== undefined) {
      h['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    try {
      return await goJwtDpop.send(api + path, { method, headers: h, body: payload, credentials: 'include', cache: 'no-store' }, token);
    } catch {
      throw new ApiError(0, 'network', 'Cannot reach the service — check your connection and try again');
    }
  }

  // failure turns an error answer into words a person understands.
  async function failure(res) {
    let body = {};
    try {
      body = await res.json();
    } catch {
      // not JSON: the status alone says enough
    }
    return new ApiError(res.status, body.error || '', describe(res, body));
  }

  function describe(res, body) {
    switch (res.status) {
      case 400:
      case 413:
      case 415:
        return sentence(body.message) || 'The service did not accept that request';
      case 401:
        return body.error === 'invalid_credentials' ? 'Wrong username or password' : 'Your session has ended — please log in again';
      case 403:
        if (body.error === 'account_locked') return 'This account is locked — ask an administrator';
        if (body.error === 'forbidden') return 'That needs the admin role';
        if (body.error === 'invalid_credentials') return sentence(body.message) || 'Wrong password';
        return 'The service refused this request from this page';
      case 404:
        return 'That is no longer there — it may have ended already';
      case 409:
        return res.url.endsWith('/public/register') ? 'That username is taken' : sentence(body.message) || 'That was done already';
      case 429: {
        const n = retryAfter(res);
        if (n === null) return 'Too many attempts — try again later';
        return `Too many attempts — try again in ${n} ${n === 1 ? 'second' : 'seconds'}`;
      }
      case 503:
        return 'The service is temporarily unavailable — try again shortly';
      default:
        return `Something went wrong (HTTP ${res.status}) — try again`;
    }
  }

  // retryAfter reads Retry-After, in seconds or as an HTTP date.
  function retryAfter(res) {
    const v = res.headers.get('Retry-After');
    if (!v) return null;
    if (/^\d+$/.test(v.trim())) return Math.max(1, parseInt(v, 10));
    const at = Date.parse(v);
    return Number.isNaN(at) ? null : Math.max(1, Math.ceil((at - Date.now()) / 1000));
  }

  // sentence makes a server message read as one: "invalid request: password
  // must be …" becomes "Password must be …".
  function sentence(s) {
    if (typeof s !== 'string') return '';
    s = s.replace(/^invalid request:\s*/i, '');
    return s ? s[0].toUpperCase() + s.slice(1) : '';
  }

  // refresh gets a new access token from the refresh cookie; false when the
  // session is gone. failed is the access token that just got a 401.
  //
  // The lock is held a little past the refresh (HANDOFF_MS): the message
  // that hands the new token to the other tabs is not ordered with the
  // release of the lock, and a tab that took the lock before the message
  // arrived would rotate the token again and kill the one just handed out.
  // This tab does not wait for that: its answer comes as soon as it has one.
  function refresh(failed) {
    if (!refreshing) {
      refreshing = new Promise((resolve, reject) => {
        const run = async () => {
          try {
            resolve(await rotate(failed));
          } catch (err) {
            reject(err);
            return;
          }
          await new Promise((done) => setTimeout(done, HANDOFF_MS));
        };
        if (navigator.locks && navigator.locks.request) {
          navigator.locks.request(LOCK, run).catch(reject);
        } else {
          run(); // no Web Locks (not a secure context): one refresh per tab at least
        }
      }).finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  async function rotate(failed) {
    if (accessToken && accessToken !== failed) return true; // another tab did it while we waited
    const res = await send('/public/refresh', { method: 'POST', headers: { 'X-Requested-With': 'fetch' } });
    if (res.status === 401) {
      accessToken = null;
      return false;
    }
    if (!res.ok) {
      const err = await failure(res);
      if (err.code !== 'invalid_dpop_proof') throw err;
      accessToken = null; // bound to a key this browser no longer has
      return false;
    }
    accessToken = (await res.json()).accessToken;
    tell({ type: 'token', token: accessToken });
    return true;
  }

  // authed makes a request with the access token; on a 401 it refreshes
  // once and retries once. A session that cannot be refreshed signs out.
  async function authed(path, opts = {}) {
    let used = accessToken;
    let res = await send(path, { ...opts, token: used });
    if (res.status === 401 && await refresh(used)) {
      used = accessToken;
      res = await send(path, { ...opts, token: used });
    }
    if (res.status === 401) {
      signedOut('Your session has ended — please log in again', true);
      throw new ApiError(401, 'invalid_token', '', true);
    }
    if (!res.ok) throw await failure(res);
    return res;
  }

  // Passkeys (passkeys.js): sign-in, and the list with add and delete.
  const passkeys = window.goJwtPasskeys.mount({ ApiError, send, authed, failure, signedIn, showNotice, stamp, act });

  // --- views -------------------------------------------------------------

  function showError(err) {
    if (err instanceof ApiError) {
      if (err.shown) return;
      ui.error.textContent = err.message;
    } else {
      console.error(err); // a bug in this page, not an answer of the API
      ui.error.textContent = 'Something went wrong in this page — reload and try again';
    }
    ui.error.hidden = false;
  }

  function showNotice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = false;
  }

  function clearMessages() {
    ui.error.hidden = true;
    ui.error.textContent = '';
    ui.notice.hidden = true;
    ui.notice.textContent = '';
  }

  function showLogin() {
    ui.loading.hidden = true;
    ui.app.hidden = true;
    ui.auth.hidden = false;
    ui.welcome.textContent = '';
    ui.sessions.replaceChildren();
    ui.admin.hidden = true;
    ui.users.replaceChildren();
    me = null;
    ui.password.value = '';
    mfa.reset();
    passkeys.showSignIn();
    ui.username.focus();
  }

  async function enterApp() {
    ui.loading.hidden = true;
    ui.auth.hidden = true;
    ui.app.hidden = false;
    await Promise.all([loadWelcome(), loadSessions(), loadAdmin(), mfa.load(), passkeys.load()]);
    ui.binding.textContent = goJwtDpop.bound(accessToken)
      ? 'This session is bound to this browser (DPoP): its tokens are of no use anywhere else.'
      : 'This session is not bound to this browser: its tokens work wherever they are sent (Bearer).';
  }

  function signedOut(message, broadcast) {
    accessToken = null;
    showLogin();
    if (message) showNotice(message);
    if (broadcast) tell({ type: 'logout' });
  }

  async function loadWelcome() {
    const res = await authed('/user/welcome');
    ui.welcome.textContent = await res.text();
  }

  async function loadSessions() {
    const res = await authed('/user/sessions');
    const { sessions = [] } = await res.json();
    ui.sessions.replaceChildren(...sessions.map(sessionItem));
  }

  // loadAdmin shows the user table when the signed-in user is an admin
  // (/user/me says the roles of the current access token).
  async function loadAdmin() {
    const res = await authed('/user/me');
    const info = await res.json();
    me = info.username;
    const admin = Array.isArray(info.roles) && info.roles.includes('admin');
    ui.admin.hidden = !admin;
    if (admin) await loadUsers(false);
  }

  // loadUsers shows the first page of users, or with more the next one.
  async function loadUsers(more) {
    const query = more && usersCursor ? `&cursor=${encodeURIComponent(usersCursor)}` : '';
    const res = await authed(`/admin/users?limit=50${query}`);
    const { users = [], nextCursor = '' } = await res.json();
    const rows = users.map(userRow);
    if (more) ui.users.append(...rows);
    else ui.users.replaceChildren(...rows);
    usersCursor = nextCursor;
    ui.moreUsers.hidden = !nextCursor;
  }

  // userRow renders one user with textContent only. Every row but the
  // admin's own has a lock or unlock button.
  function userRow(u) {
    const tr = document.createElement('tr');
    tr.dataset.name = u.username;
    tr.className = u.locked ? 'locked' : '';
    const roles = Array.isArray(u.roles) && u.roles.length ? u.roles.join(', ') : '—';
    for (const text of [u.username, roles, u.locked ? 'Locked' : 'Active', String(u.sessions)]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    const td = document.createElement('td');
    if (u.username !== me) {
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = u.locked ? 'lock-toggle small' : 'lock-toggle small danger';
      btn.dataset.name = u.username;
      btn.dataset.action = u.locked ? 'unlock' : 'lock';
      btn.textContent = u.locked ? 'Unlock' : 'Lock';
      btn.setAttribute('aria-label', `${btn.textContent} ${u.username}`);
      td.append(btn);
    }
    tr.append(td);
    return tr;
  }

  // setLocked locks or unlocks a user; a lock ends their sessions at once.
  async function setLocked(name, action) {
    await authed(`/admin/users/${encodeURIComponent(name)}/${action}`, { method: 'POST' });
    showNotice(action === 'lock' ? `${name} is locked and signed out everywhere` : `${name} is unlocked`);
    await loadUsers(false);
  }

  const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

  // sessionItem renders one session with textContent only: every field
  // (the user agent above all) is text chosen by a client, never markup.
  function sessionItem(s) {
    const li = document.createElement('li');
    li.className = s.current ? 'session current' : 'session';
    li.dataset.id = s.id;

    const main = document.createElement('div');
    main.className = 'session-main';
    const name = document.createElement('strong');
    name.textContent = device(s.userAgent);
    name.title = s.userAgent || '';
    main.append(name);
    if (s.current) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'This device';
      main.append(' ', badge);
    }
    const meta = document.createElement('div');
    meta.className = 'session-meta';
    const id = document.createElement('code');
    id.textContent = String(s.id).slice(0, 8);
    id.title = `Session ${s.id}`;
    meta.append(`Signed in ${stamp(s.createdAt)} · IP ${s.ip || 'unknown'} · `, id);
    main.append(meta);
    if (s.userAgent && s.userAgent !== name.textContent) {
      const agent = document.createElement('div');
      agent.className = 'session-agent';
      agent.textContent = s.userAgent;
      main.append(agent);
    }
    li.append(main);

    if (!s.current) {
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'revoke small danger';
      btn.dataset.id = s.id;
      btn.textContent = 'Revoke';
      btn.setAttribute('aria-label', `Revoke the session of ${device(s.userAgent)} signed in ${stamp(s.createdAt)}`);
      li.append(btn);
    }
    return li;
  }

  function stamp(t) {
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? 'at an unknown time' : when.format(d);
  }

  // device names a user agent the way a person would ("Chrome on Linux").
  function device(ua) {
    if (!ua) return 'Unknown device';
    const browsers = [[/Edg\//, 'Edge'], [/HeadlessChrome\//, 'Headless Chrome'], [/Chrom(e|ium)\//, 'Chrome'],
      [/Firefox\//, 'Firefox'], [/Safari\//, 'Safari'], [/^curl\//, 'curl'], [/^Go-http-client/, 'Go client']];
    const systems = [[/Android/, 'Android'], [/iPhone|iPad/, 'iOS'], [/Windows/, 'Windows'], [/Mac OS X/, 'macOS'],
      [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']];
    const b = browsers.find(([re]) => re.test(ua));
    const o = systems.find(([re]) => re.test(ua));
    if (!b) return ua.length > 40 ? `${ua.slice(0, 40)}…` : ua;
    return o ? `${b[1]} on ${o[1]}` : b[1];
  }

  // --- actions -----------------------------------------------------------

  // act wraps a handler: one run at a time per button, errors shown.
  function act(button, fn) {
    return async (ev) => {
      if (ev) ev.preventDefault();
      if (button.disabled) return;
      clearMessages();
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      try {
        await fn(ev);
      } catch (err) {
        showError(err);
      } finally {
        button.disabled = false;
        button.removeAttribute('aria-busy');
      }
    };
  }

  function credentials() {
    const username = ui.username.value.trim();
    const password = ui.password.value;
    for (const [field, value] of [[ui.username, username], [ui.password, password]]) {
      field.setAttribute('aria-invalid', String(!value));
    }
    if (!username || !password) {
      (username ? ui.password : ui.username).focus();
      throw new ApiError(0, 'missing', 'Enter a username and a password');
    }
    return { username, password };
  }

  // login signs in with a password; an account with two-factor
  // authentication on answers 403 mfa_required, and the code form (mfa.js)
  // takes over.
  async function login({ username, password }) {
    const res = await send('/public/login', { method: 'POST', body: { username, password } });
    if (res.status === 403) {
      const body = await res.clone().json().catch(() => ({}));
      if (body.error === 'mfa_required' && body.mfaToken) {
        ui.password.value = '';
        mfa.challenge(body.mfaToken);
        return;
      }
    }
    if (!res.ok) throw await failure(res);
    await signedIn((await res.json()).accessToken);
  }

  // signedIn enters the app with a fresh session's access token.
  async function signedIn(token) {
    accessToken = token;
    ui.form.reset();
    tell({ type: 'login', token: accessToken });
    await enterApp();
  }

  async function register() {
    const c = credentials();
    const res = await send('/public/register', { method: 'POST', body: c });
    if (!res.ok) throw await failure(res);
    await login(c);
  }

  async function revoke(id) {
    try {
      await authed(`/user/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
      showNotice('Session revoked: that device is signed out');
    } catch (err) {
      if (err.status !== 404) throw err;
      showNotice('That session had already ended');
    }
    await loadSessions();
  }

  async function logout() {
    await authed('/user/logout', { method: 'POST' });
    signedOut('You are logged out', true);
  }

  async function logoutAll() {
    const res = await authed('/user/logout-all', { method: 'POST' });
    const { revoked = 0 } = await res.json();
    signedOut(`Logged out of ${revoked} ${revoked === 1 ? 'session' : 'sessions'}`, true);
  }

  // --- other tabs ----------------------------------------------------------

  function tell(msg) {
    if (channel) channel.postMessage(msg);
  }

  if (channel) {
    channel.onmessage = ({ data }) => {
      if (!data || typeof data !== 'object') return;
      if (data.type === 'token' && typeof data.token === 'string') {
        accessToken = data.token;
      } else if (data.type === 'login' && typeof data.token === 'string') {
        accessToken = data.token;
        clearMessages();
        enterApp().catch(showError);
      } else if (data.type === 'logout' && !ui.app.hidden) {
        clearMessages();
        signedOut('You were logged out in another tab', false);
      }
    };
  }

  // --- wiring ----------------------------------------------------------------

  const mfa = window.goJwtMfa({ send, authed, failure, ApiError, act, showNotice, signedIn });

  ui.form.addEventListener('submit', act(ui.loginBtn, () => login(credentials())));
  ui.registerBtn.addEventListener('click', act(ui.registerBtn, register));
  $('refresh-welcome').addEventListener('click', act($('refresh-welcome'), loadWelcome));
  $('reload-sessions').addEventListener('click', act($('reload-sessions'), loadSessions));
  $('logout').addEventListener('click', act($('logout'), logout));
  $('logout-all').addEventListener('click', act($('logout-all'), logoutAll));
  ui.sessions.addEventListener('click', (ev) => {
    const btn = ev.target.closest('button.revoke');
    if (btn) act(btn, () => revoke(btn.dataset.id))(ev);
  });
  $('reload-users').addEventListener('click', act($('reload-users'), () => loadUsers(false)));
  ui.moreUsers.addEventListener('click', act(ui.moreUsers, () => loadUsers(true)));
  ui.users.addEventListener('click', (ev) => {
    const btn = ev.target.closest('button.lock-toggle');
    if (btn) act(btn, () => setLocked(btn.dataset.name, btn.dataset.action))(ev);
  });


  // On load, a silent refresh restores the session of a returning visitor;
  // a 401 there only means "not signed in".
  (async () => {
    try {
      if (await refresh(null)) {
        await enterApp();
        return;
      }
      showLogin();
    } catch (err) {
      if (ui.app.hidden) showLogin();
      showError(err);
    }
  })();
})();
