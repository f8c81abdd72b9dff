// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // After a failed submit, take the reader (and the screen reader) to what needs attention.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  // A new share link: land on it, with Copy and (where the phone has it) Share.
  var newLink = document.getElementById("new-link");
  if (newLink) {
    newLink.scrollIntoView({ block: "start" });
    newLink.focus({ preventScroll: true });
    var linkField = document.getElementById("share-link");
    var copyButton = document.getElementById("copy-link");
    if (copyButton && navigator.clipboard && window.isSecureContext) {
      copyButton.hidden = false;
      copyButton.addEventListener("click", function () {
        navigator.clipboard.writeText(linkField.value).then(function () {
          copyButton.textContent = copyButton.dataset.copied;
        }).catch(function () { linkField.select(); });
      });
    }
    var shareButton = document.getElementById("share-link-button");
    if (shareButton && navigator.share) {
      shareButton.hidden = false;
      shareButton.addEventListener("click", function () {
        navigator.share({ title: shareButton.dataset.title, url: linkField.value }).catch(function () {});
      });
    }
  }

  // Keep wallet pages available offline once they have been seen.
  // The check page too, so a checkpoint can verify QR codes without a signal.
  var offlinePage = document.body.dataset.offlineWallet === "1" || document.getElementById("verify-form");
  if ("serviceWorker" in navigator && offlinePage) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }

  // Passkeys: shown only where the browser supports them.
  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }
  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, body) {
    var token = document.querySelector("meta[name=csrf-token]").content;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      if (!response.ok) throw new Error("refused");
      return response.json();
    });
  }
  function showError() {
    var error = document.getElementById("passkey-error");
    if (error) error.hidden = false;
  }
  if (window.PublicKeyCredential) {
    document.querySelectorAll(".passkey-only").forEach(function (element) { element.hidden = false; });
  }
  var addButton = document.getElementById("passkey-add");
  if (addButton && window.PublicKeyCredential) {
    addButton.addEventListener("click", function () {
      post("/account/passkeys/options").then(function (answer) {
        var options = answer.options;
        options.challenge = fromBase64url(options.challenge);
        options.user.id = fromBase64url(options.user.id);
        (options.excludeCredentials || []).forEach(function (c) { c.id = fromBase64url(c.id); });
        return navigator.credentials.create({ publicKey: options });
      }).then(function (credential) {
        return post("/account/passkeys", { credential: {
          id: credential.id,
          rawId: toBase64url(credential.rawId),
          type: credential.type,
          response: {
            clientDataJSON: toBase64url(credential.response.clientDataJSON),
            attestationObject: toBase64url(credential.response.attestationObject)
          }
        } });
      }).then(function (answer) { window.location.href = answer.redirect; }).catch(showError);
    });
  }
  var signInButton = document.getElementById("passkey-sign-in");
  if (signInButton && window.PublicKeyCredential) {
    signInButton.addEventListener("click", function () {
      post(signInButton.dataset.options).then(function (answer) {
        var options = answer.options;
        options.challenge = fromBase64url(options.challenge);
        (options.allowCredentials || []).forEach(function (c) { c.id = fromBase64url(c.id); });
        return navigator.credentials.get({ publicKey: options });
      }).then(function (credential) {
        return post(signInButton.dataset.finish, { credential: {
          id: credential.id,
          rawId: toBase64url(credential.rawId),
          type: credential.type,
          response: {
            clientDataJSON: toBase64url(credential.response.clientDataJSON),
            authenticatorData: toBase64url(credential.response.authenticatorData),
            signature: toBase64url(credential.response.signature),
            userHandle: credential.response.userHandle ? toBase64url(credential.response.userHandle) : null
          }
        } });
      }).then(function (answer) { window.location.href = answer.redirect; }).catch(showError);
    });
  }

  // On the verify page, scan a QR code with the camera where the browser can detect one.
  var scanButton = document.getElementById("scan-camera");
  if (scanButton && "BarcodeDetector" in window && navigator.mediaDevices) {
    scanButton.hidden = false;
    scanButton.addEventListener("click", function () {
      var video = document.getElementById("scan-video");
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        video.play();
        var look = function () {
          detector.detect(video).then(function (codes) {
            if (codes.length > 0) {
              stream.getTracks().forEach(function (track) { track.stop(); });
              document.getElementById("field-credential").value = codes[0].rawValue;
              var verifyForm = document.getElementById("verify-form");
              if (verifyForm.requestSubmit) verifyForm.requestSubmit(); else verifyForm.submit();
            } else {
              window.requestAnimationFrame(look);
            }
          }).catch(function () { window.requestAnimationFrame(look); });
        };
        look();
      }).catch(function () { scanButton.hidden = true; });
    });
  }
})();
