/* Applies the visitor's saved contrast and text size before the page is painted.
   Preferences live in this browser's localStorage only; the server never sees them. */
(function () {
  "use strict";
  try {
    var root = document.documentElement;
    if (window.localStorage.getItem("portal.contraste") === "alto") {
      root.classList.add("alto-contraste");
    }
    var size = window.localStorage.getItem("portal.fonte");
    if (size && /^(112|125|150|175|200)$/.test(size)) {
      root.classList.add("fonte-" + size);
    }
  } catch (e) {
    /* Storage blocked: the page works with the defaults. */
  }
})();
