(function () {
  var button = document.getElementById("print-slip");
  if (button) button.addEventListener("click", function () { window.print(); });
})();
