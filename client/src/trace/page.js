// The trace page's only script: an arrow of the diagram opens the exchange it stands for,
// one button opens every exchange, and the page says it ran (data-ready: the parts of the
// run shown).
(function () {
  "use strict";
  function open(id) {
    var target = document.getElementById(id);
    if (target && target.tagName === "DETAILS") {
      target.open = true;
    }
  }
  var links = document.querySelectorAll("#diagram a");
  Array.prototype.forEach.call(links, function (a) {
    a.addEventListener("click", function () {
      open((a.getAttribute("href") || "").slice(1));
    });
  });
  if (location.hash) {
    open(location.hash.slice(1));
  }
  var all = document.getElementById("expand-all");
  if (all) {
    all.addEventListener("click", function () {
      Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) {
        d.open = true;
      });
    });
  }
  document.body.setAttribute("data-ready", String(document.querySelectorAll("section.part[data-part]").length));
})();
