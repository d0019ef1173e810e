// Progressive enhancement only: every page works without this file.
"use strict";
(function () {
  // The description's preview follows the text as it is typed (the Preview button still works).
  var form = document.querySelector("form[data-preview]");
  if (form) {
    var area = form.querySelector("#description");
    var out = document.getElementById("preview");
    var csrf = form.querySelector("input[name=csrf]").value;
    var timer = null;
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var body = new URLSearchParams({ csrf: csrf, description: area.value });
        fetch(form.dataset.preview, { method: "POST", body: body, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
          .then(function (html) { out.innerHTML = html; })  // sanitized by the server
          .catch(function () {});
      }, 250);
    });
  }
  // Picking a kind on the browse page goes there.
  var pick = document.querySelector("select[data-go]");
  if (pick) {
    pick.addEventListener("change", function () { location.href = pick.dataset.go + pick.value; });
  }
  // "/" focuses the search box, as on most catalogs.
  document.addEventListener("keydown", function (e) {
    var t = e.target.tagName;
    if (e.key === "/" && t !== "INPUT" && t !== "TEXTAREA" && t !== "SELECT") {
      var q = document.getElementById("q") || document.getElementById("top-q");
      if (q) { e.preventDefault(); q.focus(); }
    }
  });
})();
