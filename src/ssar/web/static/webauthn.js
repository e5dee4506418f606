// SSAR passkeys: sign-in (username-first and discoverable) and registration.
// Loaded as an external script (CSP script-src 'self'); it binds to data- attributes only.
(function () {
  "use strict";

  function b64urlToBuffer(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    var padded = base64 + "===".slice((base64.length + 3) % 4);
    var binary = atob(padded);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function bufferToB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  async function postJSON(url, body) {
    var response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": csrfToken()
      },
      body: JSON.stringify(body)
    });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      var error = new Error((data && (data.detail || data.title)) || "Something went wrong. Please try again.");
      error.code = data && data.code;
      throw error;
    }
    return data;
  }

  function creationOptions(options) {
    options.challenge = b64urlToBuffer(options.challenge);
    options.user.id = b64urlToBuffer(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuffer(c.id); });
    return options;
  }

  function requestOptions(options) {
    options.challenge = b64urlToBuffer(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuffer(c.id); });
    return options;
  }

  function registrationJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: bufferToB64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: bufferToB64url(response.clientDataJSON),
        attestationObject: bufferToB64url(response.attestationObject),
        transports: typeof response.getTransports === "function" ? response.getTransports() : []
      },
      clientExtensionResults: credential.getClientExtensionResults()
    };
    if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
    return json;
  }

  function assertionJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: bufferToB64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: bufferToB64url(response.clientDataJSON),
        authenticatorData: bufferToB64url(response.authenticatorData),
        signature: bufferToB64url(response.signature),
        userHandle: response.userHandle ? bufferToB64url(response.userHandle) : null
      },
      clientExtensionResults: credential.getClientExtensionResults()
    };
    if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
    return json;
  }

  function statusFor(button) {
    var scope = button.closest("section, .stack, main") || document;
    return scope.querySelector("[data-passkey-status]");
  }

  function showStatus(button, message, info) {
    var status = statusFor(button);
    if (!status) return;
    status.textContent = message;
    status.classList.toggle("status-info", Boolean(info));
    status.hidden = !message;
  }

  function messageFor(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey prompt was closed or timed out. Please try again.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device already has a passkey for your account.";
    }
    return (error && error.message) || "Something went wrong. Please try again.";
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  async function signIn(button) {
    var username = button.getAttribute("data-username");
    var options = await postJSON("/signin/passkey/options", username ? { username: username } : {});
    var credential = await navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
    var body = { credential: assertionJSON(credential) };
    if (button.getAttribute("data-next")) body.next = button.getAttribute("data-next");
    var result = await postJSON("/signin/passkey", body);
    window.location.assign(result.redirect);
  }

  async function register(button) {
    var labelInput = document.querySelector("[data-passkey-label]");
    var label = labelInput ? labelInput.value : "";
    var options = await postJSON("/security-info/passkey/options", {});
    var credential = await navigator.credentials.create({ publicKey: creationOptions(options.publicKey) });
    var result = await postJSON("/security-info/passkey", { credential: registrationJSON(credential), label: label });
    window.location.assign(result.redirect);
  }

  function bind(selector, action, progressMessage) {
    document.querySelectorAll(selector).forEach(function (button) {
      if (!window.PublicKeyCredential) {
        button.disabled = true;
        showStatus(button, "This browser does not support passkeys. Use another sign-in method.");
        return;
      }
      button.addEventListener("click", async function () {
        busy(button, true);
        showStatus(button, progressMessage, true);
        try {
          await action(button);
        } catch (error) {
          if (error && error.code === "reauthentication_required") {
            window.location.assign("/signin");
            return;
          }
          showStatus(button, messageFor(error));
          busy(button, false);
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    bind("[data-passkey-signin]", signIn, "Follow the prompt from your browser or device…");
    bind("[data-passkey-register]", register, "Follow the prompt to create your passkey…");
  });
})();
