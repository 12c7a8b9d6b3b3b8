/* The questionnaire's section page (assess/section.html). Progressive enhancement: the form
   works without this script.

   - Nothing typed is lost: every change is kept in this browser (localStorage, one entry per
     user, assessment and section) until it is saved, and put back when the page is opened
     again, with a notice and a button to discard it. Each question's entry carries the answer
     version it was typed against, and that version goes back into the form with it, so saving
     keeps the server's compare-and-set: an answer someone else saved meanwhile comes back as a
     conflict showing both versions, never a silent overwrite. Nothing is sent to the server
     until the person presses Save.
   - Leaving the page with unsaved changes asks first (beforeunload).
   - The error summary is focused on load, so it is read first.
   - A focused control is never left under the sticky Save bar (WCAG 2.4.11). */
(function () {
  "use strict";

  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    // A link of the summary moves the focus to its field, not only the view.
    summary.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
      var field = link ? document.getElementById(link.getAttribute("href").slice(1)) : null;
      if (!field) {
        return;
      }
      event.preventDefault();
      var panel = field.closest("details");
      if (panel) {
        panel.open = true;
      }
      field.focus();
    });
  }

  // The sticky Save bar: the page keeps that much room at the bottom when it scrolls a
  // control into view (CSS sets a default; the bar's real height wins, as it wraps on phones).
  var bar = document.querySelector(".section-form .form-actions");
  if (bar) {
    var room = function () {
      document.documentElement.style.scrollPaddingBottom = bar.offsetHeight + 16 + "px";
    };
    room();
    window.addEventListener("resize", room);
    document.addEventListener("focusin", function (event) {
      var target = event.target;
      if (!target || bar.contains(target) || typeof target.getBoundingClientRect !== "function") {
        return;
      }
      var covering = bar.getBoundingClientRect();
      var rect = target.getBoundingClientRect();
      if (rect.bottom > covering.top - 4 && rect.top < covering.bottom) {
        window.scrollBy(0, rect.bottom - covering.top + 16); // behind the bar: bring it above
      }
    });
  }

  var form = document.querySelector("form[data-draft-key]");
  if (!form) {
    return;
  }
  var key = form.getAttribute("data-draft-key");
  var KEEP_DAYS = 30; // signing out forgets it sooner (js/signout.js)
  var store = null;
  try {
    store = window.localStorage;
    store.getItem(key);
  } catch (error) {
    store = null; // storage refused (private mode, policy): the warning before leaving remains
  }

  var articles = Array.prototype.slice.call(form.querySelectorAll("article.question[id^='q-']"));
  var byKey = {};
  articles.forEach(function (article) {
    byKey[article.id.slice(2)] = article;
  });

  function fieldsOf(article) {
    return Array.prototype.slice.call(article.querySelectorAll("input[name], textarea[name], select[name]"));
  }

  // One question's fields as {name: value}; radios and checkboxes as the list of checked values.
  function read(article) {
    var out = {};
    fieldsOf(article).forEach(function (el) {
      if (el.type === "hidden" || el.type === "submit" || el.type === "button") {
        return;
      }
      if (el.type === "radio" || el.type === "checkbox") {
        out[el.name] = out[el.name] || [];
        if (el.checked) {
          out[el.name].push(el.value);
        }
      } else {
        out[el.name] = el.value;
      }
    });
    return out;
  }

  function write(article, fields) {
    fieldsOf(article).forEach(function (el) {
      if (el.type === "hidden" || !Object.prototype.hasOwnProperty.call(fields, el.name)) {
        return;
      }
      var value = fields[el.name];
      var before = el.type === "radio" || el.type === "checkbox" ? el.checked : el.value;
      if (el.type === "radio" || el.type === "checkbox") {
        el.checked = Array.isArray(value) && value.indexOf(el.value) !== -1;
      } else if (typeof value === "string") {
        el.value = value;
      }
      var after = el.type === "radio" || el.type === "checkbox" ? el.checked : el.value;
      var panel = el.closest("details");
      if (after !== before && panel) {
        panel.open = true; // what was put back is in view
      }
    });
  }

  function versionOf(article) {
    var input = form.querySelector('input[name="' + article.id.slice(2) + '-base_version"]');
    return input ? input.value : "0";
  }

  function same(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }

  // Whether every field kept in a draft holds the same on the page (a saved page may have more
  // fields, such as a new empty evidence row).
  function holds(kept, page) {
    return Object.keys(kept).every(function (name) {
      var empty = Array.isArray(kept[name]) ? [] : "";
      return same(kept[name], Object.prototype.hasOwnProperty.call(page, name) ? page[name] : empty);
    });
  }

  function load() {
    if (!store) {
      return null;
    }
    try {
      var stored = JSON.parse(store.getItem(key) || "null");
      if (stored && Date.now() - Date.parse(stored.saved) > KEEP_DAYS * 86400000) {
        store.removeItem(key); // too old to be what anyone remembers typing
        return null;
      }
      return stored && typeof stored.questions === "object" && stored.questions ? stored : null;
    } catch (error) {
      return null;
    }
  }

  var draft = { saved: null, questions: {} };
  function persist() {
    if (!store) {
      return;
    }
    try {
      if (Object.keys(draft.questions).length) {
        draft.saved = new Date().toISOString();
        store.setItem(key, JSON.stringify(draft));
      } else {
        store.removeItem(key);
      }
    } catch (error) {
      // Storage full or refused: the warning before leaving still protects the typing.
    }
  }

  // What the server sent: saved answers, or the typed ones it could not save (data-unsaved:
  // an error or a conflict), which count as unsaved from the start.
  var initial = {};
  var unsaved = {};
  articles.forEach(function (article) {
    var k = article.id.slice(2);
    initial[k] = read(article);
    if (article.hasAttribute("data-unsaved")) {
      unsaved[k] = true;
    }
  });

  // Put back what was typed and not saved.
  var stored = load();
  var restored = 0;
  var stale = false;
  if (stored) {
    Object.keys(stored.questions).forEach(function (k) {
      var entry = stored.questions[k];
      var article = byKey[k];
      if (!article || !entry || typeof entry.fields !== "object" || !entry.fields || holds(entry.fields, initial[k])) {
        return; // saved since, or no longer on this page
      }
      write(article, entry.fields);
      var input = form.querySelector('input[name="' + k + '-base_version"]');
      if (input && typeof entry.version === "string" && /^\d{1,18}$/.test(entry.version)) {
        if (input.value !== entry.version) {
          stale = true;
        }
        input.value = entry.version; // the version it was typed against: saving compares it
      }
      draft.questions[k] = { version: versionOf(article), fields: read(article) };
      unsaved[k] = true;
      restored += 1;
    });
  }
  articles.forEach(function (article) {
    var k = article.id.slice(2);
    if (unsaved[k] && !draft.questions[k]) {
      draft.questions[k] = { version: versionOf(article), fields: read(article) };
    }
  });
  persist();

  var notice = document.getElementById("draft-notice");
  if (restored && notice) {
    var time = notice.querySelector("[data-draft-time]");
    var when = new Date(stored.saved || Date.now());
    if (time && !isNaN(when.getTime())) {
      time.textContent = when.toLocaleString();
    }
    var staleNote = notice.querySelector("[data-draft-stale]");
    if (staleNote) {
      staleNote.hidden = !stale;
    }
    notice.hidden = false;
  }

  function changed(article) {
    var k = article.id.slice(2);
    var now = read(article);
    if (unsaved[k] || !same(now, initial[k])) {
      draft.questions[k] = { version: versionOf(article), fields: now };
    } else {
      delete draft.questions[k];
    }
    persist();
  }

  function onEdit(event) {
    var article = event.target && event.target.closest ? event.target.closest("article.question") : null;
    if (article && byKey[article.id.slice(2)] === article) {
      changed(article);
    }
  }
  form.addEventListener("input", onEdit);
  form.addEventListener("change", onEdit);

  var leaving = false;
  form.addEventListener("submit", function () {
    leaving = true; // the draft stays until a page shows the answers saved
  });

  function dirty() {
    return articles.some(function (article) {
      var k = article.id.slice(2);
      return unsaved[k] || !same(read(article), initial[k]);
    });
  }

  window.addEventListener("beforeunload", function (event) {
    if (!leaving && dirty()) {
      event.preventDefault();
      event.returnValue = ""; // the browser shows its own "leave site?" question
    }
  });

  var discard = notice ? notice.querySelector("[data-draft-discard]") : null;
  if (discard) {
    discard.addEventListener("click", function () {
      draft.questions = {};
      persist();
      leaving = true;
      window.location.assign(window.location.pathname); // the saved answers, as a GET
    });
  }
})();
