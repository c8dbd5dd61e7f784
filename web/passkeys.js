// go-jwt demo front end: passkeys (WebAuthn) in plain browser JavaScript.
//
// The service sends ceremony options as WebAuthn's JSON: {"publicKey":{…}}
// with every binary field (challenge, user.id, credential ids) in
// base64url. navigator.credentials wants those as bytes, and answers with
// bytes, which go back as PublicKeyCredential.toJSON() spells them. This
// file does that translation and nothing else; app.js calls it.
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

  return { supported, create, get, cancelled, fromB64url, toB64url };
})();
