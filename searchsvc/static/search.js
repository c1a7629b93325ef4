// Keyboard help for the results page; everything works without it.
(function () {
  "use strict";
  var box = document.getElementById("q");
  document.addEventListener("keydown", function (e) {
    var tag = (document.activeElement && document.activeElement.tagName) || "";
    if (e.key === "/" && tag !== "INPUT" && tag !== "TEXTAREA") {
      e.preventDefault();
      if (box) { box.focus(); box.select(); }
    }
  });
})();
