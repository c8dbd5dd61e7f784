// go-jwt demo front end: the second factor (TOTP and recovery codes), plain
// browser JavaScript like app.js, which builds it with what it needs:
//
//   const mfa = window.goJwtMfa({ send, authed, failure, ApiError, act, showNotice, signedIn });
//
// The mfaToken of a two-step login lives in this closure only, like the
// access token in app.js; the TOTP secret and the recovery codes are shown
// in the page and dropped from it as soon as they are no longer needed.
'use strict';

window.goJwtMfa = ({ send, authed, failure, ApiError, act, showNotice, signedIn }) => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    login: $('login-form'),
    form: $('mfa-form'),
    code: $('mfa-code'),
    status: $('mfa-status'),
    off: $('mfa-off'),
    enablePassword: $('mfa-enable-password'),
    enroll: $('mfa-enroll'),
    qr: $('mfa-qr'),
    secret: $('mfa-secret'),
    confirmCode: $('mfa-confirm-code'),
    recovery: $('mfa-recovery'),
    codes: $('mfa-recovery-codes'),
    on: $('mfa-on'),
    managePassword: $('mfa-manage-password'),
    manageCode: $('mfa-manage-code'),
  };
  let mfaToken = null; // the second login step's token: memory only

  // --- the second login step ------------------------------------------------

  // challenge shows the code form: the password was right, and the account
  // has two-factor authentication on.
  function challenge(token) {
    mfaToken = token;
    ui.login.hidden = true;
    ui.form.hidden = false;
    ui.code.value = '';
    ui.code.focus();
  }

  // reset goes back to the password form and forgets the mfaToken.
  function reset() {
    mfaToken = null;
    ui.form.hidden = true;
    ui.login.hidden = false;
    ui.code.value = '';
  }

  // verify trades the mfaToken and the code for a session. Six digits are a
  // TOTP code; anything else is taken for a recovery code.
  async function verify() {
    const code = ui.code.value.trim();
    if (!code) {
      ui.code.focus();
      throw new ApiError(0, 'missing', 'Enter the code from your authenticator app, or a recovery code');
    }
    const field = /^\d{6}$/.test(code.replace(/\s/g, '')) ? 'code' : 'recoveryCode';
    const res = await send('/public/login/mfa', { method: 'POST', body: { mfaToken, [field]: code } });
    if (res.status === 401) {
      const { error } = await res.json().catch(() => ({}));
      if (error === 'invalid_token') {
        reset();
        throw new ApiError(401, error, 'That sign-in ran out of time or tries — enter your password again');
      }
      ui.code.select();
      throw new ApiError(401, error, 'Wrong code — enter the one your app shows now');
    }
    if (!res.ok) throw await failure(res);
    const { accessToken } = await res.json();
    reset();
    await signedIn(accessToken);
  }

  // --- managing it, signed in -----------------------------------------------

  async function load() {
    const res = await authed('/user/mfa');
    render(await res.json());
  }

  // render shows what can be done now; the enrollment and the recovery
  // codes, which hold secrets, are hidden and emptied.
  function render({ totp = false, recoveryCodesLeft = 0 } = {}) {
    ui.status.textContent = totp
      ? `On · ${recoveryCodesLeft} recovery ${recoveryCodesLeft === 1 ? 'code' : 'codes'} left`
      : 'Off';
    ui.off.hidden = totp;
    ui.on.hidden = !totp;
    ui.enroll.hidden = true;
    ui.recovery.hidden = true;
    ui.secret.textContent = '';
    ui.qr.removeAttribute('src');
    ui.codes.replaceChildren();
    for (const input of [ui.enablePassword, ui.confirmCode, ui.managePassword, ui.manageCode]) input.value = '';
  }

  function need(input, what) {
    const v = input.value.trim();
    if (!v) {
      input.focus();
      throw new ApiError(0, 'missing', `Enter ${what}`);
    }
    return input === ui.enablePassword || input === ui.managePassword ? input.value : v;
  }

  async function enroll() {
    const password = need(ui.enablePassword, 'your password');
    const res = await authed('/user/mfa/totp/enroll', { method: 'POST', body: { password } });
    const { secret, qrPng } = await res.json();
    ui.enablePassword.value = '';
    ui.qr.src = qrPng;
    ui.secret.textContent = secret;
    ui.off.hidden = true;
    ui.enroll.hidden = false;
    ui.confirmCode.focus();
  }

  async function confirm() {
    const code = need(ui.confirmCode, 'the code your app shows');
    const res = await authed('/user/mfa/totp/confirm', { method: 'POST', body: { code } });
    const { recoveryCodes } = await res.json();
    await load();
    showCodes(recoveryCodes);
    showNotice('Two-factor authentication is on: your other sessions were signed out');
  }

  function showCodes(codes) {
    ui.codes.replaceChildren(...codes.map((c) => {
      const li = document.createElement('li');
      li.textContent = c;
      return li;
    }));
    ui.on.hidden = true;
    ui.recovery.hidden = false;
  }

  async function regenerate() {
    const body = { password: need(ui.managePassword, 'your password'), code: need(ui.manageCode, 'a code or a recovery code') };
    const res = await authed('/user/mfa/recovery-codes', { method: 'POST', body });
    const { recoveryCodes } = await res.json();
    await load();
    showCodes(recoveryCodes);
    showNotice('New recovery codes: the old ones no longer work');
  }

  async function disable() {
    const body = { password: need(ui.managePassword, 'your password'), code: need(ui.manageCode, 'a code or a recovery code') };
    await authed('/user/mfa/totp', { method: 'DELETE', body });
    await load();
    showNotice('Two-factor authentication is off');
  }

  ui.form.addEventListener('submit', act($('mfa-btn'), verify));
  $('mfa-cancel').addEventListener('click', reset);
  ui.off.addEventListener('submit', act($('mfa-enable'), enroll));
  ui.enroll.addEventListener('submit', act($('mfa-confirm'), confirm));
  $('mfa-recovery-done').addEventListener('click', act($('mfa-recovery-done'), load));
  ui.on.addEventListener('submit', act($('mfa-disable'), disable));
  $('mfa-regenerate').addEventListener('click', act($('mfa-regenerate'), regenerate));

  return { challenge, reset, load };
};
