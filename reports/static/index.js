/* Sorting and filtering of the index's school table; the state lives in the URL's hash
   (#sort=high&dir=desc&q=...) so that a copied link opens the same view. Sorting reads the
   raw values in data-v attributes, never the displayed text. */
(function () {
  "use strict";
  var table = document.getElementById("schools");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filter = document.getElementById("filter");
  var shown = document.getElementById("shown");
  var collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true });
  var keys = {};
  var current = { sort: "", dir: "", q: "" };

  rows.forEach(function (row, i) { row._order = i; });

  function column(name) {
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].getAttribute("data-col") === name) { return i; }
    }
    return -1;
  }

  function keyOf(name, index) {
    if (!keys[name]) {
      var numeric = heads[index].getAttribute("data-type") === "num";
      keys[name] = rows.map(function (row) {
        var raw = row.cells[index].getAttribute("data-v") || "";
        return numeric ? (parseFloat(raw) || 0) : raw;
      });
    }
    return keys[name];
  }

  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    return {
      sort: params.get("sort") || "",
      dir: params.get("dir") === "desc" ? "desc" : "asc",
      q: params.get("q") || ""
    };
  }

  function writeHash(state) {
    var params = new URLSearchParams();
    if (state.sort) { params.set("sort", state.sort); params.set("dir", state.dir); }
    if (state.q) { params.set("q", state.q); }
    var hash = params.toString();
    var url = location.pathname + location.search + (hash ? "#" + hash : "");
    try {
      history.replaceState(null, "", url);
    } catch (e) {
      location.hash = hash;
    }
  }

  function sortRows(state) {
    var index = column(state.sort);
    var order = rows.slice();
    if (index >= 0) {
      var key = keyOf(state.sort, index);
      var sign = state.dir === "desc" ? -1 : 1;
      var numeric = heads[index].getAttribute("data-type") === "num";
      order.sort(function (a, b) {
        var x = key[a._order], y = key[b._order];
        var c = numeric ? x - y : collator.compare(x, y);
        return c ? sign * c : a._order - b._order;
      });
    }
    var fragment = document.createDocumentFragment();
    order.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
    heads.forEach(function (th, i) {
      if (!th.hasAttribute("data-col")) { return; }
      if (i === index) {
        th.setAttribute("aria-sort", state.dir === "desc" ? "descending" : "ascending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
  }

  function filterRows(state) {
    var words = state.q.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute("data-search") || "";
      var match = words.every(function (w) { return text.indexOf(w) >= 0; });
      row.hidden = !match;
      if (match) { count++; }
    });
    if (shown) {
      shown.textContent = shown.getAttribute("data-template")
        .replace("{shown}", String(count)).replace("{total}", String(rows.length));
    }
  }

  function apply(state, save) {
    if (state.sort !== current.sort || state.dir !== current.dir) { sortRows(state); }
    if (state.q !== current.q) { filterRows(state); }
    if (filter && filter.value !== state.q) { filter.value = state.q; }
    current = state;
    if (save) { writeHash(state); }
  }

  heads.forEach(function (th) {
    var button = th.querySelector("button.sort");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var name = th.getAttribute("data-col");
      var dir = "asc";
      if (current.sort === name) {
        dir = current.dir === "asc" ? "desc" : "asc";
      } else if (th.getAttribute("data-type") === "num") {
        dir = "desc";
      }
      apply({ sort: name, dir: dir, q: current.q }, true);
    });
  });

  if (filter) {
    var timer = 0;
    filter.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        apply({ sort: current.sort, dir: current.dir, q: filter.value.trim() }, true);
      }, 120);
    });
  }

  window.addEventListener("hashchange", function () { apply(readHash(), false); });
  current = { sort: "", dir: "asc", q: "" };
  apply(readHash(), false);
  filterRows(current);
})();
