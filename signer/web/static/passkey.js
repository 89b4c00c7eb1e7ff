// Passkeys for aws-sso-signer's pages: the account page's "Add a
// passkey" and the login page's "Log in with a passkey". Without
// JavaScript, or without WebAuthn in the browser, the buttons stay
// hidden and the password works as ever.
"use strict";

(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }
  const status = document.getElementById("passkey-status");

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function fromB64url(s) {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
  }

  function toB64url(buf) {
    let bin = "";
    for (const b of new Uint8Array(buf)) {
      bin += String.fromCharCode(b);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // post sends body as JSON and returns the service's JSON answer; an
  // error answer's text is thrown.
  async function post(url, body) {
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
    let answer = {};
    try {
      answer = await resp.json();
    } catch (e) {
      throw new Error("The service's answer could not be read. Try again.");
    }
    if (!resp.ok) {
      throw new Error(answer.error || "The service refused. Try again.");
    }
    return answer;
  }

  function descriptors(list) {
    return (list || []).map((c) => Object.assign({}, c, { id: fromB64url(c.id) }));
  }

  async function register() {
    say("Follow your browser's prompt.");
    const begun = await post("/passkeys/register/begin");
    const pk = begun.options.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    pk.user.id = fromB64url(pk.user.id);
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    const cred = await navigator.credentials.create({ publicKey: pk });
    const r = cred.response;
    const done = await post("/passkeys/register/finish?state=" + encodeURIComponent(begun.state), {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        attestationObject: toB64url(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : [],
      },
    });
    location.assign(done.redirect);
  }

  async function login() {
    say("Follow your browser's prompt.");
    const begun = await post("/passkeys/login/begin");
    const pk = begun.options.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    const cred = await navigator.credentials.get({ publicKey: pk });
    const r = cred.response;
    const done = await post("/passkeys/login/finish?state=" + encodeURIComponent(begun.state), {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        authenticatorData: toB64url(r.authenticatorData),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null,
      },
    });
    location.assign(done.redirect);
  }

  function wire(id, ceremony) {
    const button = document.getElementById(id);
    if (!button) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", () => {
      button.disabled = true;
      ceremony()
        .catch((e) => {
          // The browser's own errors (the prompt closed, a timeout) say
          // little a person can act on.
          say(e instanceof DOMException ? "No passkey was used. Try again." : e.message);
        })
        .finally(() => {
          button.disabled = false;
        });
    });
  }

  for (const p of document.querySelectorAll(".passkey-nojs")) {
    p.hidden = true;
  }
  wire("passkey-add", register);
  wire("passkey-login", login);
})();
