// Live preview of the transparency draft while typing. Without JavaScript the Preview button
// does the same through the server; this only saves the round trip.
(function () {
  var form = document.querySelector("form.editor-form");
  if (!form || !window.fetch) return;
  var textarea = form.querySelector("textarea");
  var target = document.getElementById("preview-output"); // not "preview": the button has that id
  var token = form.querySelector("input[name=csrf_token]");
  var timer = null;
  textarea.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var body = new URLSearchParams();
      body.set("markdown", textarea.value);
      body.set("csrf_token", token ? token.value : "");
      fetch(form.dataset.previewUrl, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) target.innerHTML = html; });
    }, 400);
  });
})();
