// Adding a second sign-in step on one phone: the passkey is offered first where this device can make one (one tap),
// and keys and recovery codes can be copied with a button instead of being typed from the screen.
(function () {
  "use strict";
  var passkey = document.getElementById("passkey-choice");
  if (passkey && window.PublicKeyCredential &&
      typeof window.PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable === "function") {
    window.PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable()
      .then(function (available) {
        if (!available) return;
        passkey.hidden = false;
        // The app stays offered, no longer as the first choice.
        var app = document.getElementById("app-choice-button");
        if (app) app.classList.remove("primary");
      })
      .catch(function () {});
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
    if (!navigator.clipboard) { button.hidden = true; return; }
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      navigator.clipboard.writeText(source.value.trim()).then(function () {
        var label = button.textContent;
        button.textContent = button.dataset.copied;
        window.setTimeout(function () { button.textContent = label; }, 2000);
      }).catch(function () { source.select(); });
    });
  });
})();
