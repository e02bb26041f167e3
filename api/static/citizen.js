// Citizen pages: the booking form's fee and free places while it is filled, the error summary's
// focus, and the print button. Everything here is an extra: the pages work without it.
(function () {
  "use strict";

  function focusSummary() {
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  }

  function printButton() {
    var button = document.getElementById("print");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }

  function checked(form, name) {
    var box = form.querySelector("input[name=" + name + "]:checked");
    return box ? box.value : "";
  }

  function quote(form) {
    var url = form.getAttribute("data-quote-url");
    var fee = document.getElementById("quote-fee");
    if (!url || !fee || !window.fetch) { return; }
    var initial = fee.textContent;
    var timer = null;
    var asked = 0;

    function refresh() {
      var params = new URLSearchParams({
        service_form: checked(form, "service_form"),
        procedure_code: form.elements.procedure_code.value,
        desk_code: form.elements.desk_code.value,
        commune_code: form.elements.commune_code.value,
        date: form.elements.date.value,
        fee_collection: form.elements.fee_collection.checked ? "1" : "0",
        lang: form.getAttribute("data-lang") || "vi"
      });
      var mine = ++asked;
      fetch(url + "?" + params.toString(), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || mine !== asked) { return; }
          fee.textContent = data.fee ? data.fee.text : initial;
          ["morning", "afternoon"].forEach(function (slot) {
            var note = document.getElementById("slot-" + slot + "-note");
            if (!note) { return; }
            var found = (data.slots || []).filter(function (s) { return s.slot === slot; })[0];
            note.textContent = found ? "(" + found.text + ")" : "";
            note.classList.toggle("full", !!found && !found.open);
          });
        })
        .catch(function () { fee.textContent = initial; });
    }

    form.addEventListener("change", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 150);
    });
    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusSummary();
    printButton();
    var form = document.getElementById("book-form");
    if (form) { quote(form); }
  });
})();
