// Drawn signatures on handover records: the page sends the SHA-256 of the drawing.
(function () {
  "use strict";
  if (!(window.crypto && crypto.subtle)) return;
  function hex(buf) {
    return Array.from(new Uint8Array(buf)).map(function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  document.querySelectorAll("form[data-sign]").forEach(function (form) {
    var canvas = form.querySelector("canvas.signature");
    if (!canvas) return;
    canvas.parentNode.hidden = false;
    var ctx = canvas.getContext("2d");
    var down = false;
    function at(e) {
      var r = canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
    }
    canvas.addEventListener("pointerdown", function (e) { down = true; var p = at(e); ctx.beginPath(); ctx.moveTo(p[0], p[1]); });
    canvas.addEventListener("pointermove", function (e) {
      if (!down) return;
      var p = at(e); ctx.lineTo(p[0], p[1]); ctx.stroke(); canvas.dataset.signed = "1";
    });
    window.addEventListener("pointerup", function () { down = false; });
    form.addEventListener("submit", function (e) {
      if (!canvas.dataset.signed || form.elements.signature_sha256.value) return;
      e.preventDefault();
      crypto.subtle.digest("SHA-256", new TextEncoder().encode(canvas.toDataURL())).then(function (h) {
        form.elements.signature_sha256.value = hex(h);
        form.submit();
      });
    });
  });
})();
