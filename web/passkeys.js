// go-jwt demo front end: passkeys (WebAuthn) in plain browser JavaScript,
// no build step. app.js mounts it with what it needs of the page's API
// client (mount below): "Sign in with a passkey" on the login form, and the
// signed-in user's passkeys with "Add a passkey" and delete.
//
// The service sends ceremony options as WebAuthn's JSON: {"publicKey":{…}}
// with every binary field (challenge, user.id, credential ids) in
// base64url. navigator.credentials wants those as bytes, and answers with
// bytes, which go back as PublicKeyCredential.toJSON() spells them.
'use strict';

window.goJwtPasskeys = (() => {
  // base64url (RFC 4648 §5, no padding) to bytes and back.
  function fromB64url(s) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) throw new TypeError('not base64url');
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  const descriptors = (list) => (list || []).map((d) => ({ ...d, id: fromB64url(d.id) }));

  // creationOptions and requestOptions turn the service's JSON into what
  // navigator.credentials.create() and .get() take.
  function creationOptions(pk) {
    return {
      ...pk,
      challenge: fromB64url(pk.challenge),
      user: { ...pk.user, id: fromB64url(pk.user.id) },
      excludeCredentials: descriptors(pk.excludeCredentials),
    };
  }

  function requestOptions(pk) {
    return { ...pk, challenge: fromB64url(pk.challenge), allowCredentials: descriptors(pk.allowCredentials) };
  }

  // credentialJSON is PublicKeyCredential.toJSON(), written out for the
  // browsers that do not have it yet.
  function credentialJSON(cred) {
    if (typeof cred.toJSON === 'function') return cred.toJSON();
    const r = cred.response;
    const response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      if (typeof r.getTransports === 'function') response.transports = r.getTransports();
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response,
    };
  }

  // supported tells whether this browser, on this page, can use passkeys:
  // WebAuthn exists only in a secure context (https, or http://localhost).
  function supported() {
    return window.isSecureContext && typeof window.PublicKeyCredential === 'function' &&
      !!navigator.credentials && typeof navigator.credentials.create === 'function';
  }

  // create makes a passkey for the options of a registration's begin answer.
  async function create(publicKey) {
    return credentialJSON(await navigator.credentials.create({ publicKey: creationOptions(publicKey) }));
  }

  // get signs a sign-in's challenge with a passkey the person picks.
  async function get(publicKey) {
    return credentialJSON(await navigator.credentials.get({ publicKey: requestOptions(publicKey) }));
  }

  // cancelled tells the browser's "the person said no, or no passkey was
  // there" (it does not say which, on purpose) from other failures.
  const cancelled = (err) => err && (err.name === 'NotAllowedError' || err.name === 'AbortError');

  // mount wires the passkey parts of the page. app gives what it shares:
  // ApiError, send (no token), authed (with the access token, refreshing
  // once on a 401), failure (an error answer in words), signedIn (takes the
  // access token of a new session and enters the app), showNotice, stamp (a date for a
  // person) and act (runs a button's handler, showing its errors).
  function mount(app) {
    const { ApiError, send, authed, failure, signedIn, showNotice, stamp, act } = app;
    const $ = (id) => document.getElementById(id);
    const ui = {
      signin: $('passkey-signin'),
      list: $('passkeys'),
      empty: $('passkeys-empty'),
      form: $('passkey-form'),
      name: $('passkey-name'),
      password: $('passkey-password'),
      unsupported: $('passkeys-unsupported'),
    };

    // ceremony runs navigator.credentials (create or get) and turns the
    // browser's refusals into words: they are a person's choices, not bugs.
    async function ceremony(run) {
      try {
        return await run();
      } catch (err) {
        if (cancelled(err)) {
          throw new ApiError(0, 'cancelled', 'No passkey was used — it was cancelled, timed out, or none is available here');
        }
        if (err && err.name === 'InvalidStateError') {
          throw new ApiError(0, 'exists', 'This device already holds a passkey for your account');
        }
        throw new ApiError(0, 'webauthn', `The browser refused the passkey: ${err && err.message ? err.message : err}`);
      }
    }

    // passkeyLogin signs in without a username: the device offers its passkeys.
    async function passkeyLogin() {
      let res = await send('/public/passkeys/login/begin', { method: 'POST' });
      if (!res.ok) throw await failure(res);
      const { challengeId, publicKey } = await res.json();
      const credential = await ceremony(() => get(publicKey));
      res = await send('/public/passkeys/login/finish', { method: 'POST', body: { challengeId, credential } });
      if (res.status === 401) {
        throw new ApiError(401, 'invalid_credentials', 'That passkey was not accepted — it may have been removed from your account');
      }
      if (!res.ok) throw await failure(res);
      await signedIn((await res.json()).accessToken);
    }

    async function addPasskey() {
      const password = ui.password.value;
      ui.password.setAttribute('aria-invalid', String(!password));
      if (!password) {
        ui.password.focus();
        throw new ApiError(0, 'missing', 'Enter your password to add a passkey');
      }
      let res = await authed('/user/passkeys/register/begin', { method: 'POST', body: { password } });
      const { challengeId, publicKey } = await res.json();
      const credential = await ceremony(() => create(publicKey));
      res = await authed('/user/passkeys/register/finish', {
        method: 'POST', body: { challengeId, name: ui.name.value.trim(), credential },
      });
      const added = await res.json();
      ui.form.reset();
      showNotice(`Passkey “${added.name}” added: you can now sign in with it, without a password`);
      await loadPasskeys();
    }

    async function loadPasskeys() {
      const res = await authed('/user/passkeys');
      const { passkeys = [] } = await res.json();
      ui.list.replaceChildren(...passkeys.map(passkeyItem));
      ui.empty.hidden = passkeys.length > 0;
      const can = supported();
      ui.form.hidden = !can;
      ui.unsupported.hidden = can;
    }

    // passkeyItem renders one passkey with textContent only: its name is the
    // user's own text.
    function passkeyItem(p) {
      const li = document.createElement('li');
      li.className = 'session passkey';
      li.dataset.id = p.id;
      const main = document.createElement('div');
      main.className = 'session-main';
      const name = document.createElement('strong');
      name.textContent = p.name;
      const meta = document.createElement('div');
      meta.className = 'session-meta';
      meta.textContent = `Added ${stamp(p.createdAt)} · ${p.lastUsedAt ? `last used ${stamp(p.lastUsedAt)}` : 'never used'}`;
      main.append(name, meta);
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'delete-passkey small danger';
      btn.dataset.id = p.id;
      btn.textContent = 'Delete';
      btn.setAttribute('aria-label', `Delete the passkey ${p.name}`);
      li.append(main, btn);
      return li;
    }

    async function deletePasskey(id) {
      try {
        await authed(`/user/passkeys/${encodeURIComponent(id)}`, { method: 'DELETE' });
        showNotice('Passkey deleted: it no longer signs you in');
      } catch (err) {
        if (err.status !== 404) throw err;
        showNotice('That passkey was already deleted');
      }
      await loadPasskeys();
    }

    $('passkey-login-btn').addEventListener('click', act($('passkey-login-btn'), passkeyLogin));
    ui.form.addEventListener('submit', act($('passkey-add-btn'), addPasskey));
    ui.list.addEventListener('click', (ev) => {
      const btn = ev.target.closest('button.delete-passkey');
      if (btn) act(btn, () => deletePasskey(btn.dataset.id))(ev);
    });

    return {
      load: loadPasskeys,
      // showSignIn offers the passkey button where passkeys can work.
      showSignIn() { ui.signin.hidden = !supported(); },
    };
  }

  return { mount, supported, fromB64url, toB64url };
})();
