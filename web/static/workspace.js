// The workspace's glue: the CSRF header on htmx requests, the form-js form of a task (server-side
// validation only, errors shown at their fields), the small read-only diagram, and when the inbox may
// refresh itself. No build step: this file is served as it is.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  // Sentences for refused actions come back as 4xx fragments: show them rather than dropping them.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 400 && status < 500) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  var govflow = (window.govflow = {
    // The inbox refreshes itself unless the official is choosing rows or working inside the table.
    mayRefresh: function () {
      var results = document.getElementById("inbox-results");
      if (!results) return false;
      if (results.querySelector('input[type="checkbox"]:checked')) return false;
      return !results.contains(document.activeElement) || document.activeElement === document.body;
    },
  });

  // --- the task form -------------------------------------------------------------------------

  // The server validates every submission and says what is wrong in the official's language, so
  // form-js's own (English) checks are switched off: errors come only from the server.
  function ServerValidator() {}
  ServerValidator.prototype.validateField = function () { return []; };
  ServerValidator.prototype.validateFieldInstance = function () { return []; };

  function readJson(id, fallback) {
    var node = document.getElementById(id);
    if (!node) return fallback;
    try { return JSON.parse(node.textContent); } catch (e) { return fallback; }
  }

  function showNotice(text, tone) {
    var notice = document.getElementById("notice");
    if (!notice) return;
    notice.className = "notice notice-" + tone;
    notice.setAttribute("role", tone === "error" ? "alert" : "status");
    notice.textContent = text;
  }

  function showFieldErrors(form, errors) {
    var summary = document.getElementById("form-errors");
    var byId = {};
    var loose = [];
    errors.forEach(function (e) {
      if (e.id) (byId[e.id] = byId[e.id] || []).push(e.message);
      else loose.push(e);
    });
    if (form) form._setState({ errors: byId }); // form-js renders these beside each field
    summary.textContent = "";
    if (!errors.length) return;
    var list = document.createElement("ul");
    errors.forEach(function (e) {
      var item = document.createElement("li");
      var label = e.id ? fieldLabel(e.id) : e.field;
      item.textContent = (label ? label + "：" : "") + e.message;
      list.appendChild(item);
    });
    summary.appendChild(list);
    if (loose.length === 0 && errors[0].id) focusField(errors[0].id);
  }

  function fieldLabel(componentId) {
    var input = document.querySelector('[id$="-' + CSS.escape(componentId) + '"]');
    var label = input && input.labels && input.labels[0];
    return label ? label.textContent.replace(/\*\s*$/, "").trim() : "";
  }

  function focusField(componentId) {
    var input = document.querySelector('[id$="-' + CSS.escape(componentId) + '"]');
    if (input && input.focus) input.focus();
  }

  function mountForm() {
    var container = document.getElementById("task-form");
    if (!container || !window.FormViewer) return Promise.resolve(null);
    var readOnly = container.dataset.readonly === "true";
    var form = new window.FormViewer.Form({
      container: container,
      properties: { readOnly: readOnly },
      additionalModules: [{ validator: ["type", ServerValidator] }],
    });
    return form.importSchema(readJson(container.dataset.schema, {}), readJson(container.dataset.data, {})).then(
      function () { return form; },
      function (err) {
        showNotice(String(err && err.message ? err.message : err), "error");
        return null;
      }
    );
  }

  function wireCompletion(form) {
    var button = document.getElementById("complete");
    if (!button) return;
    button.addEventListener("click", function () {
      var data = form ? form.submit().data : {};
      var body = { data: data };
      if (button.dataset.ids) body.ids = JSON.parse(button.dataset.ids);
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      fetch(button.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify(body),
      })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          button.removeAttribute("aria-busy");
          if (answer.html !== undefined) {
            document.getElementById("bulk-report").innerHTML = answer.html;
          }
          if (answer.ok && answer.redirect) {
            window.location.assign(answer.redirect);
            return;
          }
          showFieldErrors(form, answer.errors || []);
          showNotice(answer.message, answer.ok ? "success" : "error");
          if (answer.redirect && !answer.ok && answer.message) setTimeout(function () { window.location.assign(answer.redirect); }, 1500);
          button.disabled = Boolean(answer.ok && answer.html !== undefined);
        })
        .catch(function () {
          button.disabled = false;
          button.removeAttribute("aria-busy");
          showNotice(document.documentElement.lang === "en" ? "The server could not be reached; try again." : "无法连接服务器，请重试。", "error");
        });
    });
  }

  // --- the diagram -------------------------------------------------------------------------------

  function mountDiagram() {
    var container = document.getElementById("diagram");
    if (!container || !window.BpmnJS) return;
    var viewer = new window.BpmnJS({ container: container });
    fetch(container.dataset.xmlUrl, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        JSON.parse(container.dataset.completed || "[]").forEach(function (id) {
          if (registry.get(id)) canvas.addMarker(id, "gf-done");
        });
        JSON.parse(container.dataset.active || "[]").forEach(function (id) {
          if (registry.get(id)) canvas.addMarker(id, "gf-current");
        });
        canvas.zoom("fit-viewport");
        container.dataset.ready = "true";
      })
      .catch(function () { container.dataset.ready = "failed"; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    mountForm().then(function (form) {
      wireCompletion(form);
      var container = document.getElementById("task-form");
      if (container) container.dataset.ready = "true";
    });
    mountDiagram();
  });
})();
