// The desk page: "select all" boxes for the expected lists (without JavaScript they stay
// hidden and each item is ticked by hand).
(function () {
  "use strict";
  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    var form = all.form;
    if (!form) return;
    var boxes = Array.prototype.filter.call(
      form.querySelectorAll("input[type=checkbox][name=item_numbers]"),
      function (box) { return !box.disabled; }
    );
    if (!boxes.length) return;
    all.closest("label").hidden = false;
    function sync() {
      var ticked = boxes.filter(function (box) { return box.checked; }).length;
      all.checked = ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      all.indeterminate = false;
    });
    boxes.forEach(function (box) { box.addEventListener("change", sync); });
    sync();
  });
})();
