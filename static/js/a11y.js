/* e-MAG accessibility bar: Alt+1..4 shortcuts, high contrast and text size, kept across pages.
   Without JavaScript the page keeps working: the shortcuts still exist as accesskey links. */
(function () {
  "use strict";
  var root = document.documentElement;
  var SIZES = ["100", "112", "125", "150", "175", "200"];
  var TARGETS = { "1": "conteudo", "2": "menu", "3": "busca-termo", "4": "rodape" };

  function store(key, value) {
    try {
      if (value === null) { window.localStorage.removeItem(key); } else { window.localStorage.setItem(key, value); }
    } catch (e) { /* storage blocked: the choice lasts for this page only */ }
  }

  function currentSize() {
    for (var i = 1; i < SIZES.length; i++) {
      if (root.classList.contains("fonte-" + SIZES[i])) { return i; }
    }
    return 0;
  }

  function setSize(index) {
    index = Math.max(0, Math.min(SIZES.length - 1, index));
    SIZES.forEach(function (size) { root.classList.remove("fonte-" + size); });
    if (index > 0) { root.classList.add("fonte-" + SIZES[index]); }
    store("portal.fonte", index > 0 ? SIZES[index] : null);
  }

  function focusTarget(key) {
    var target = document.getElementById(TARGETS[key]);
    if (!target) { return false; }
    if (key === "2") {
      var menu = target.querySelector("details");
      if (menu && !menu.open) { menu.open = true; }
      var firstLink = target.querySelector("a");
      if (firstLink) { target = firstLink; }
    }
    target.focus();
    if (target.scrollIntoView) { target.scrollIntoView({ block: "start" }); }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey) { return; }
    var key = event.code && event.code.indexOf("Digit") === 0 ? event.code.slice(5) : event.key;
    if (TARGETS[key] && focusTarget(key)) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (el) { el.hidden = false; });

    /* Wide screens show the menu open; CSS does it where ::details-content is supported, this everywhere else. */
    var menu = document.querySelector(".site-nav__menu");
    if (menu && window.matchMedia && window.matchMedia("(min-width: 48rem)").matches) { menu.open = true; }

    var contrast = document.getElementById("alto-contraste");
    if (contrast) {
      contrast.setAttribute("aria-pressed", String(root.classList.contains("alto-contraste")));
      contrast.addEventListener("click", function () {
        var on = root.classList.toggle("alto-contraste");
        contrast.setAttribute("aria-pressed", String(on));
        store("portal.contraste", on ? "alto" : null);
      });
    }
    var bigger = document.getElementById("fonte-aumentar");
    var smaller = document.getElementById("fonte-diminuir");
    var reset = document.getElementById("fonte-padrao");
    if (bigger) { bigger.addEventListener("click", function () { setSize(currentSize() + 1); }); }
    if (smaller) { smaller.addEventListener("click", function () { setSize(currentSize() - 1); }); }
    if (reset) { reset.addEventListener("click", function () { setSize(0); }); }

    /* Following a shortcut link (#conteudo, #menu, #busca, #rodape) moves the keyboard focus there too. */
    Array.prototype.forEach.call(document.querySelectorAll(".a11y-bar__shortcuts a"), function (link) {
      link.addEventListener("click", function (event) {
        if (focusTarget(link.getAttribute("accesskey"))) { event.preventDefault(); }
      });
    });
  });
})();
