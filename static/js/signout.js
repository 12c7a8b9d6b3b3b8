/* Signing out forgets what this browser kept of unsaved answers (js/section.js), so the next
   person at a shared computer finds none of it. */
(function () {
  "use strict";
  var form = document.querySelector("form.signout");
  if (!form) {
    return;
  }
  form.addEventListener("submit", function () {
    try {
      var store = window.localStorage;
      for (var i = store.length - 1; i >= 0; i -= 1) {
        var key = store.key(i);
        if (key && key.indexOf("dd-toolkit/draft/") === 0) {
          store.removeItem(key);
        }
      }
    } catch (error) {
      // No storage: nothing was kept.
    }
  });
})();
