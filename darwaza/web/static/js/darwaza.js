// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Keep wallet pages available offline once they have been seen.
  if ("serviceWorker" in navigator && document.body.dataset.offlineWallet === "1") {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }

  // On the verify page, scan a QR code with the camera where the browser can detect one.
  var scanButton = document.getElementById("scan-camera");
  if (scanButton && "BarcodeDetector" in window && navigator.mediaDevices) {
    scanButton.hidden = false;
    scanButton.addEventListener("click", function () {
      var video = document.getElementById("scan-video");
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        video.play();
        var look = function () {
          detector.detect(video).then(function (codes) {
            if (codes.length > 0) {
              stream.getTracks().forEach(function (track) { track.stop(); });
              document.getElementById("field-credential").value = codes[0].rawValue;
              document.getElementById("verify-form").submit();
            } else {
              window.requestAnimationFrame(look);
            }
          }).catch(function () { window.requestAnimationFrame(look); });
        };
        look();
      }).catch(function () { scanButton.hidden = true; });
    });
  }
})();
