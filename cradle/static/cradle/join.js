// A code scanned from the slip's QR code arrives in the address fragment, which never reaches the server.
(function () {
  var code = decodeURIComponent((window.location.hash || "").slice(1));
  var input = document.getElementById("id_code");
  if (code && input && !input.value) {
    input.value = code;
    history.replaceState(null, "", window.location.pathname);
  }
})();
