// Phone-camera scanning of item numbers with the browser's own BarcodeDetector (Chromium on
// Android ships it; no library to download). Where it is missing the buttons stay hidden and
// the clerk types the number.
(function () {
  "use strict";
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var formats = ["code_128", "qr_code", "code_39"];
  document.querySelectorAll("button.scan").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var input = document.getElementById(button.dataset.target);
      var video = document.createElement("video");
      video.setAttribute("playsinline", "");
      video.className = "scan-video";
      button.parentNode.after(video);
      var detector = new window.BarcodeDetector({ formats: formats });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
        .then(function (stream) {
          video.srcObject = stream;
          video.play();
          var tick = function () {
            detector.detect(video).then(function (codes) {
              if (codes.length) {
                input.value = codes[0].rawValue.trim().toUpperCase();
                stream.getTracks().forEach(function (t) { t.stop(); });
                video.remove();
                input.focus();
              } else {
                window.requestAnimationFrame(tick);
              }
            }).catch(function () { window.requestAnimationFrame(tick); });
          };
          tick();
        })
        .catch(function () { video.remove(); });
    });
  });
})();
