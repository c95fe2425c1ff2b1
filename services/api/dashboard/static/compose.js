// The compose page's counts, kept up to date as one types: the server draws the previews (the same part
// of the page the Check button shows), so a count here is the one the network will make. Without this
// script the Check button does the same in a full page.
(function () {
  "use strict";
  var form = document.getElementById("compose-form");
  var target = document.getElementById("preview-body");
  var upload = document.getElementById("upload");
  var tooLarge = document.getElementById("upload-too-large");
  if (form && upload && tooLarge) {
    // A file over the limit is refused before the server reads it, and the browser drops the form with it.
    form.addEventListener("submit", function (event) {
      var limit = Number(upload.getAttribute("data-max-bytes"));
      var file = upload.files && upload.files[0];
      var over = Boolean(file && limit && file.size > limit);
      tooLarge.hidden = !over;
      if (over) {
        event.preventDefault();
        upload.focus();
      }
    });
  }
  if (!form || !target || !window.fetch || !window.FormData) {
    return;
  }
  var waiting = null;
  var asked = 0;

  function refresh() {
    var number = ++asked;
    var fields = new FormData(form);
    // The counts need no file: it is sent once, with the button pressed.
    fields.delete("upload");
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      body: fields,
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        // Only the latest answer is shown: an older one may arrive after it.
        if (html !== null && number === asked) {
          target.innerHTML = html;
        }
      })
      .catch(function () {
        // Offline or refused: the Check button still works.
      });
  }

  function soon() {
    window.clearTimeout(waiting);
    waiting = window.setTimeout(refresh, 400);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
