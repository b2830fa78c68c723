// churnml meeting pack: optional filtering by CSM / segment and table sorting. No requests.
(function () {
  "use strict";
  var nav = document.getElementById("filters");
  if (!nav) { return; }
  nav.hidden = false;
  var selects = nav.querySelectorAll("select[data-filter]");
  var status = document.getElementById("filter-status");
  var items = document.querySelectorAll("main [data-csm]");
  var cards = document.querySelectorAll("article.card");

  function apply() {
    var wanted = {};
    selects.forEach(function (s) { wanted[s.dataset.filter] = s.value; });
    items.forEach(function (el) {
      var show = Object.keys(wanted).every(function (k) {
        return !wanted[k] || el.dataset[k] === wanted[k];
      });
      el.hidden = !show;
    });
    var shown = 0;
    cards.forEach(function (c) { if (!c.hidden) { shown += 1; } });
    status.textContent = "Showing " + shown + " of " + cards.length + " account cards";
  }
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  apply();

  var table = document.getElementById("red-table");
  if (!table) { return; }
  var heads = table.querySelectorAll("thead th[data-sort]");
  heads.forEach(function (th, col) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () {
      var numeric = th.dataset.sort === "number";
      var dir = th.getAttribute("aria-sort") === "descending" ? 1 : -1;
      if (th.getAttribute("aria-sort") === null) { dir = numeric ? -1 : 1; }
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return r.cells.length === heads.length; });
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.value || "", y = b.cells[col].dataset.value || "";
        if (numeric) {
          var nx = x === "" ? -Infinity : Number(x), ny = y === "" ? -Infinity : Number(y);
          return (nx - ny) * dir;
        }
        return x.localeCompare(y) * dir;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    });
  });
}());
