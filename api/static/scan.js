// Phone-camera scanning of item numbers with the browser's own BarcodeDetector (Chromium on
// Android ships it; no library to download). Where it is missing, or finds no barcode format
// it can read, or the camera is refused, the buttons stay hidden (or hide again) and the item
// number is typed. A scan button names its input with data-target.
(function () {
  "use strict";
  var WANTED = ["code_128", "code_39", "qr_code", "data_matrix"];
  var formats = null;  // the wanted formats this browser reads, once known

  function supported() {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices ||
        !navigator.mediaDevices.getUserMedia) {
      return Promise.resolve([]);
    }
    if (formats) return Promise.resolve(formats);
    var ask = window.BarcodeDetector.getSupportedFormats
      ? window.BarcodeDetector.getSupportedFormats() : Promise.resolve(WANTED);
    return ask.then(function (all) {
      formats = WANTED.filter(function (f) { return all.indexOf(f) >= 0; });
      return formats;
    }).catch(function () { return []; });
  }

  function scan(button, input, found) {
    var box = document.createElement("div");
    box.className = "scan-box";
    var video = document.createElement("video");
    video.setAttribute("playsinline", "");
    video.setAttribute("muted", "");
    video.setAttribute("aria-label", button.textContent);
    video.className = "scan-video";
    var stop = document.createElement("button");
    stop.type = "button";
    stop.className = "secondary";
    stop.textContent = "✕";
    stop.setAttribute("aria-label", button.dataset.cancel || "Cancel");
    box.appendChild(video);
    box.appendChild(stop);
    button.parentNode.after(box);
    var stream = null;
    var done = false;
    function end() {
      done = true;
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      box.remove();
      button.disabled = false;
    }
    stop.addEventListener("click", function () { end(); button.focus(); });
    button.disabled = true;
    var detector = new window.BarcodeDetector({ formats: found });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.play();
        var tick = function () {
          if (done) return;
          detector.detect(video).then(function (codes) {
            if (codes.length) {
              input.value = codes[0].rawValue.trim().toUpperCase();
              end();
              input.dispatchEvent(new Event("input", { bubbles: true }));
              input.focus();
            } else {
              window.requestAnimationFrame(tick);
            }
          }).catch(function () { window.requestAnimationFrame(tick); });
        };
        tick();
      })
      .catch(function () {
        // No camera or permission refused: back to typing.
        end();
        button.hidden = true;
        input.focus();
      });
  }

  function bind(root) {
    supported().then(function (found) {
      if (!found.length) return;
      root.querySelectorAll("button.scan").forEach(function (button) {
        var input = document.getElementById(button.dataset.target);
        if (!input || button.dataset.bound) return;
        button.dataset.bound = "1";
        button.hidden = false;
        button.addEventListener("click", function () { scan(button, input, found); });
      });
    });
  }

  bind(document);
  // The courier page redraws a stop in place: bind its new buttons.
  document.addEventListener("postal:fragment", function (e) { bind(e.detail); });
})();
