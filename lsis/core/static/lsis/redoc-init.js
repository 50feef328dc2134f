// Starts Redoc on the API documentation page (templates/drf_spectacular/redoc.html). Redoc writes its styles into
// <style> elements; it marks them with the nonce passed here, which the page's Content-Security-Policy allows, so
// the page needs no 'unsafe-inline'. The nonce comes from a data attribute: browsers hide the nonce attribute itself.
(function () {
  "use strict";
  var container = document.getElementById("redoc-container");
  window.Redoc.init(container.dataset.specUrl, { nonce: container.dataset.nonce }, container);
})();
