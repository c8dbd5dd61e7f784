// DPoP for the demo page (RFC 9449): plain browser JavaScript, no build
// step, no library.
//
// The page holds one ECDSA P-256 key pair per browser profile, made by
// WebCrypto as non-extractable: no script, this page's included, can read
// the private key out, only ask the browser to sign with it. It is kept in
// IndexedDB (a CryptoKey survives there as the object itself, still
// non-extractable), so reloads and other tabs use the same key. Every
// request to the API carries a fresh proof signed with it; login and
// refresh then bind the token pair to the key, and a bound token copied out
// of this page (a log, a proxy, an injected script) is refused anywhere the
// key is not.
//
// Where WebCrypto or IndexedDB is missing (a page served over plain http
// from another host is no secure context), the page works as before, with
// Bearer tokens, and says so.
'use strict';

window.goJwtDpop = (() => {
  const DB = 'go-jwt-dpop';
  const STORE = 'keys';
  const ID = 'dpop-key';
  const utf8 = new TextEncoder();

  let key = null; // Promise of {privateKey, jwk}, or of null without WebCrypto
  let nonce = null; // the server's latest DPoP-Nonce (DPOP_NONCE=on)

  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const part = (obj) => b64url(utf8.encode(JSON.stringify(obj)));

  function request(r) {
    return new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }

  async function store() {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    return request(open);
  }

  // load returns the browser's key pair, making and storing it the first
  // time. Two tabs racing on a first visit may each make one; the last
  // stored wins, and the other tab's session refreshes with a key it no
  // longer has once (it signs in again).
  async function load() {
    if (!window.isSecureContext || !window.crypto || !crypto.subtle || !window.indexedDB) return null;
    const db = await store();
    let pair = await request(db.transaction(STORE).objectStore(STORE).get(ID));
    if (!pair) {
      pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
      await request(db.transaction(STORE, 'readwrite').objectStore(STORE).put(pair, ID));
    }
    db.close();
    const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey); // the public half only
    return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } };
  }

  function keyPair() {
    if (!key) {
      key = load().catch((err) => {
        console.warn('DPoP unavailable, using Bearer tokens:', err);
        return null;
      });
    }
    return key;
  }

  // proof signs a proof for method on url (query and fragment are no part
  // of htu), with the hash of token (ath) when there is one.
  async function proof(method, url, token) {
    const k = await keyPair();
    if (!k) return null;
    const u = new URL(url, location.href);
    const claims = {
      jti: b64url(crypto.getRandomValues(new Uint8Array(16))),
      htm: method,
      htu: u.origin + u.pathname,
      iat: Math.floor(Date.now() / 1000),
    };
    if (token) claims.ath = b64url(await crypto.subtle.digest('SHA-256', utf8.encode(token)));
    if (nonce) claims.nonce = nonce;
    const input = `${part({ typ: 'dpop+jwt', alg: 'ES256', jwk: k.jwk })}.${part(claims)}`;
    // WebCrypto's ECDSA signature is r || s, as JWS wants it (RFC 7518 §3.4).
    const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, k.privateKey, utf8.encode(input));
    return `${input}.${b64url(sig)}`;
  }

  // bound tells a DPoP-bound token: its claims carry cnf.
  function bound(token) {
    try {
      const claims = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return Boolean(JSON.parse(atob(claims)).cnf);
    } catch {
      return false;
    }
  }

  // asksForNonce tells the answer that wants a proof with the server's
  // nonce (RFC 9449 §8): 401 says so in WWW-Authenticate, 400 in its body.
  async function asksForNonce(res) {
    if (res.status === 401) return /use_dpop_nonce/.test(res.headers.get('WWW-Authenticate') || '');
    if (res.status !== 400) return false;
    try {
      return (await res.clone().json()).error === 'use_dpop_nonce';
    } catch {
      return false;
    }
  }

  // send is fetch with a proof and, when token is given, its Authorization
  // header: "DPoP" for a bound token, "Bearer" otherwise. A request refused
  // for want of the server's nonce is sent once more with it.
  async function send(url, init, token) {
    for (let attempt = 0; ; attempt++) {
      const used = nonce;
      const headers = { ...init.headers };
      const p = await proof(init.method || 'GET', url, token);
      if (p) headers.DPoP = p;
      if (token) headers.Authorization = `${p && bound(token) ? 'DPoP' : 'Bearer'} ${token}`;
      const res = await fetch(url, { ...init, headers });
      nonce = res.headers.get('DPoP-Nonce') || nonce;
      if (attempt === 0 && p && nonce !== used && await asksForNonce(res)) continue;
      return res;
    }
  }

  return { send, bound, available: async () => Boolean(await keyPair()) };
})();
