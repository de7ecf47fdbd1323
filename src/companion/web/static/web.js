/* The web edition's script. Everything works without it (one folder per reading stage); with it:
   the chooser remembers the reader's stage, a page from a later stage says so before it is read,
   search runs in the browser on the stage's own index, and a service worker keeps visited pages. */
(function () {
  "use strict";
  var body = document.body;
  var root = body.getAttribute("data-root") || "";
  var key = "companion-stage:" + body.getAttribute("data-slug");

  function remembered() {
    try { return JSON.parse(window.localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function remember(id, rank, title) {
    try { window.localStorage.setItem(key, JSON.stringify({ id: id, rank: rank, title: title })); } catch (e) { /* private mode */ }
  }

  function chooser() {
    var links = document.querySelectorAll("a.stage-link");
    var chosen = remembered();
    Array.prototype.forEach.call(links, function (link, rank) {
      link.addEventListener("click", function () { remember(link.getAttribute("data-stage"), rank, link.textContent); });
      if (chosen && chosen.id === link.getAttribute("data-stage")) {
        link.parentNode.className = "remembered";
        var note = document.querySelector(".stage-remembered");
        note.textContent = "";
        note.appendChild(document.createTextNode("Last time you chose: "));
        var again = document.createElement("a");
        again.href = link.getAttribute("href");
        again.textContent = link.textContent;
        note.appendChild(again);
        note.hidden = false;
      }
    });
  }

  function warnIfAhead() {
    var chosen = remembered();
    var rank = Number(body.getAttribute("data-rank"));
    if (!chosen || !(chosen.rank < rank)) { return; }
    var main = document.getElementById("main");
    var box = document.createElement("p");
    box.className = "stage-warning";
    box.setAttribute("role", "note");
    box.appendChild(document.createTextNode("You said you have read as far as “" + chosen.title +
      "”; this page is for readers further on and may give away more. "));
    var back = document.createElement("a");
    back.href = root + chosen.id + "/index.html";
    back.textContent = "Go to your reading stage";
    box.appendChild(back);
    main.insertBefore(box, main.firstChild);
  }

  function query() {
    var found = /[?&]q=([^&#]*)/.exec(window.location.search);
    return found ? decodeURIComponent(found[1].replace(/\+/g, " ")).trim() : "";
  }

  function search() {
    var status = document.getElementById("search-status");
    var list = document.getElementById("search-results");
    var data = window.companionSearch;
    var text = query();
    if (!status || !list || !data || !window.lunr) { return; }
    if (!text) { status.textContent = "Type a word or two in the search box above."; return; }
    var index = window.lunr.Index.load(data.index);
    var results;
    try { results = index.search(text); } catch (e) {
      results = index.search(text.replace(/[:~^+\-*]/g, " "));
    }
    status.textContent = results.length + (results.length === 1 ? " place" : " places") + " found for “" + text + "”.";
    results.slice(0, 50).forEach(function (result) {
      var doc = data.docs[Number(result.ref)];
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = doc[0];
      link.textContent = doc[1];
      item.appendChild(link);
      if (doc[2]) { var words = document.createElement("p"); words.textContent = doc[2]; item.appendChild(words); }
      list.appendChild(item);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("site-search-q");
    if (box) { box.value = query(); }
    if (body.classList.contains("web-chooser")) { chooser(); }
    if (body.hasAttribute("data-rank")) { warnIfAhead(); }
    if (body.classList.contains("web-search")) { search(); }
    if ("serviceWorker" in navigator && /^https?:$/.test(window.location.protocol)) {
      navigator.serviceWorker.register(root + "sw.js").catch(function () { /* offline reading is a bonus */ });
    }
  });
})();
