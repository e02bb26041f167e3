// Drawn signatures on handover records: the page sends the strokes (integer canvas pixels);
// the server computes the hash the record keeps.
(function () {
  "use strict";
  function bind(form) {
    var canvas = form.querySelector("canvas.signature");
    if (!canvas || form.dataset.bound) return;
    form.dataset.bound = "1";
    canvas.parentNode.hidden = false;
    var ctx = canvas.getContext("2d");
    var strokes = [];
    var down = false;
    function at(e) {
      var r = canvas.getBoundingClientRect();
      return [Math.round((e.clientX - r.left) * canvas.width / r.width),
              Math.round((e.clientY - r.top) * canvas.height / r.height)];
    }
    canvas.addEventListener("pointerdown", function (e) {
      down = true; var p = at(e); strokes.push([p]); ctx.beginPath(); ctx.moveTo(p[0], p[1]);
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!down) return;
      var p = at(e); strokes[strokes.length - 1].push(p); ctx.lineTo(p[0], p[1]); ctx.stroke();
      form.elements.signature_strokes.value = JSON.stringify(strokes);
    });
    window.addEventListener("pointerup", function () { down = false; });
  }
  document.querySelectorAll("form[data-sign]").forEach(bind);
  // The courier page redraws a stop in place: bind its new forms.
  document.addEventListener("postal:fragment", function (e) {
    e.detail.querySelectorAll("form[data-sign]").forEach(bind);
  });
})();
