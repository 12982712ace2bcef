// Validate a saved query as it is typed (progressive enhancement: the form works without this;
// the server validates again on save). Served as a file because the CSP forbids inline scripts.
"use strict";
(function () {
  var input = document.querySelector("input[data-check]");
  var out = document.getElementById("query-error");
  if (!input || !out || !window.fetch) { return; }
  var timer = null;
  var seq = 0;
  function check() {
    var mine = ++seq;
    var q = input.value;
    if (!q.trim()) { out.textContent = ""; input.removeAttribute("aria-invalid"); return; }
    fetch(input.getAttribute("data-check") + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        if (mine !== seq) { return; }  // an older answer arriving late
        if (res.ok) {
          out.textContent = "";
          input.removeAttribute("aria-invalid");
        } else {
          out.textContent = "Column " + res.column + ": " + res.error;  // textContent: never markup
          input.setAttribute("aria-invalid", "true");
        }
      })
      .catch(function () { /* offline: the server checks on save */ });
  }
  input.addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(check, 250);
  });
})();
