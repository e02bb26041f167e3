// The plan page's live progress: polls the plan's progress (JSON) and updates the bar and
// the parts/stops line; reloads the page once, when the plan has finished.
(function () {
  "use strict";
  var box = document.getElementById("plan-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  var bar = document.getElementById("progress");
  var line = document.getElementById("plan-parts");
  var status = document.getElementById("plan-status");
  var delay = 1000;
  function show(p) {
    if (bar) { bar.value = p.progress; bar.textContent = p.progress + "%"; }
    if (line) {
      line.textContent = p.text;
      line.setAttribute("data-parts-done", p.parts_done);
      line.setAttribute("data-stops", p.stops_planned);
    }
    if (status) { status.textContent = p.status_text; status.setAttribute("data-polled", p.status); }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (p) {
        show(p);
        if (p.finished) { window.location.reload(); return; }
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, delay * 3); });
  }
  window.setTimeout(poll, delay);
})();
