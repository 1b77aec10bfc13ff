// Autosave for drafts: a progressive enhancement of the edit form, which
// works without it (the Save button). A few seconds after typing stops,
// the form is posted in the background as a new revision; the server
// answers with the revision number, which the form then expects.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.URLSearchParams) return;
  var status = document.getElementById("autosave-status");
  var timer = null, dirty = false, saving = false, submitting = false;

  function say(text) { if (status) status.textContent = text; }

  function save() {
    timer = null;
    if (!dirty) return;
    if (saving) { timer = setTimeout(save, 2000); return; }
    dirty = false;
    saving = true;
    var data = new URLSearchParams(new FormData(form));
    data.set("autosave", "1");
    say(form.getAttribute("data-saving"));
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (res) {
      return res.json().then(function (body) { return { ok: res.ok, body: body }; });
    }).then(function (r) {
      if (r.ok) form.elements.expected_revision.value = r.body.revision;
      say(r.body.message);
    }).catch(function () {
      dirty = true;
      say(form.getAttribute("data-failed"));
    }).then(function () {
      saving = false;
      // A Save pressed while this was in flight waited for the new revision.
      if (submitting) form.submit();
    });
  }

  form.addEventListener("input", function () {
    dirty = true;
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, 4000);
  });
  form.addEventListener("submit", function (e) {
    if (timer) clearTimeout(timer);
    dirty = false;
    if (saving) {
      e.preventDefault();
      submitting = true;
    }
  });
})();
