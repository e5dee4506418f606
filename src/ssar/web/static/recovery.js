// The verify page waits for the wallet: it asks where the flow stands every 2 seconds and moves on
// when the credential has arrived (the handle lives in an HttpOnly cookie; nothing secret here).
(function () {
  "use strict";
  var section = document.getElementById("verification");
  if (!section) { return; }
  var url = section.getAttribute("data-status-url");
  var waiting = document.getElementById("waiting");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.next_url && body.state !== "verifying") {
          if (waiting) { waiting.textContent = "Credential received…"; }
          window.location.assign(body.next_url);
          return;
        }
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 4000); });
  }
  window.setTimeout(poll, 2000);
})();
