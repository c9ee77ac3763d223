// The studio's editors for a draft's other files: form-js's editor for .form.json, dmn-js's modeler for
// .dmn (both npm's dist bundles, no build step). Save writes the file back into the draft (REST API).
(function () {
  "use strict";

  var root = document.getElementById("studio-file-editor");
  if (!root) return;
  var texts = JSON.parse(root.dataset.texts || "{}");
  var draftId = root.dataset.draft, fileName = root.dataset.file, kind = root.dataset.kind;
  var container = document.getElementById("studio-file-canvas");
  var status = document.getElementById("studio-status");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var dirty = false;

  function say(message, isError) {
    status.textContent = message;
    status.className = "studio-status" + (isError ? " gf-error" : "");
  }

  function put(content) {
    var files = {};
    files[fileName] = content;
    say(texts.saving || "…");
    return fetch("/api/v1/drafts/" + draftId, {
      method: "PATCH",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: JSON.stringify({ files: files })
    }).then(function (response) {
      if (!response.ok) return response.json().then(function (body) { throw new Error(body.detail || response.statusText); });
      dirty = false;
      say(texts.saved || "");
    }).catch(function (error) { say((texts.save_failed || "") + " " + error.message, true); });
  }

  var source = fetch("/api/v1/drafts/" + draftId + "/files/" + encodeURIComponent(fileName), { credentials: "same-origin" })
    .then(function (response) { return response.text(); });

  var editor = null;
  var ready;
  if (kind === "form") {
    ready = source.then(function (text) {
      return window.FormEditor.createFormEditor({ container: container, schema: JSON.parse(text) });
    }).then(function (created) {
      editor = created;
      editor.on("changed", function () { dirty = true; say(texts.unsaved || ""); });
      return editor;
    });
  } else {
    editor = new window.DmnJS({ container: container });
    ready = source.then(function (xml) { return editor.importXML(xml); }).then(function () {
      var views = editor.getViews();
      var table = views.find(function (v) { return v.type === "decisionTable"; });
      if (table) return editor.open(table);
    }).then(function () {
      editor.on("views.changed", function () {});
      var viewer = editor.getActiveViewer();
      if (viewer) viewer.get("eventBus").on("elements.changed", function () { dirty = true; say(texts.unsaved || ""); });
      return editor;
    });
  }
  ready.catch(function (error) { say(String(error && error.message || error), true); });

  function save() {
    return ready.then(function () {
      if (kind === "form") return put(JSON.stringify(editor.saveSchema(), null, 2) + "\n");
      return editor.saveXML({ format: true }).then(function (result) { return put(result.xml); });
    });
  }

  window.govflowFileEditor = { ready: ready, save: save };
  document.getElementById("studio-save").addEventListener("click", save);
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = texts.leave_unsaved || ""; }
  });
})();
