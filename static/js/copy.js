// Copy buttons beside a read-only link or token (the copy_field macro in _macros.html). The button
// is hidden until this script runs; "Copied" (or how to copy by hand) is announced in a live region.
(function () {
  "use strict";
  if (window.ddCopyButtons) {
    return; // the script is included once per field; the first inclusion does the work
  }
  window.ddCopyButtons = true;

  function announce(button, text) {
    var box = document.getElementById(button.getAttribute("data-copy") + "-status");
    if (!box) {
      return;
    }
    box.textContent = "";
    // A change after a pause, so that copying twice is announced twice.
    window.setTimeout(function () {
      box.textContent = text;
    }, 100);
  }

  function selectText(input) {
    input.focus();
    input.select();
  }

  function copyBySelection(input, button) {
    selectText(input);
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    if (copied) {
      button.focus();
    }
    return copied;
  }

  function copy(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) {
      return;
    }
    function done() {
      announce(button, button.getAttribute("data-copied"));
    }
    function failed() {
      selectText(input);
      announce(button, button.getAttribute("data-failed"));
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        if (copyBySelection(input, button)) {
          done();
        } else {
          failed();
        }
      });
    } else if (copyBySelection(input, button)) {
      done();
    } else {
      failed();
    }
  }

  function ready() {
    var buttons = document.querySelectorAll("button[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        copy(button);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
