// The studio's BPMN editor: bpmn-js's Modeler (npm's dist bundle, no build step) with govflow's properties
// panel; Save, Validate (the problems listed and marked on the diagram, a click selects the element) and
// Deploy go through the REST API with the session's CSRF token. window.govflowStudio is the editor's API
// for the page's own buttons and for tests.
(function () {
  "use strict";

  var root = document.getElementById("studio-editor");
  if (!root || !window.BpmnJS) return;
  var texts = JSON.parse(root.dataset.texts || "{}");
  var draftId = root.dataset.draft;
  var fileName = root.dataset.file;
  var status = document.getElementById("studio-status");
  var list = document.getElementById("studio-problem-list");
  var summary = document.getElementById("studio-problem-summary");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var dirty = false;
  var marked = [];

  function t(key, params) {
    var text = texts[key] || key;
    Object.keys(params || {}).forEach(function (name) { text = text.split("{" + name + "}").join(params[name]); });
    return text;
  }

  function say(message, isError) {
    status.textContent = message;
    status.className = "studio-status" + (isError ? " gf-error" : "");
  }

  function request(method, url, body) {
    var init = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
        if (!response.ok) {
          var error = new Error((data && (data.detail || data.message)) || response.statusText);
          error.status = response.status;
          error.data = data;
          throw error;
        }
        return data;
      });
    });
  }

  var modeler;
  var ready = fetch(root.dataset.descriptor).then(function (r) { return r.json(); }).then(function (descriptor) {
    var translate = window.govflowTranslate ? window.govflowTranslate(root.dataset.lang) : null;
    modeler = new window.BpmnJS({
      container: document.getElementById("studio-canvas"),
      moddleExtensions: { spiffworkflow: descriptor },
      additionalModules: translate ? [{ translate: ["value", translate] }] : []
    });
    var panel = new window.GovflowPanel(modeler, document.getElementById("studio-panel"), {
      texts: texts,
      roles: JSON.parse(root.dataset.roles || "[]"),
      forms: JSON.parse(root.dataset.forms || "[]"),
      decisions: JSON.parse(root.dataset.decisions || "[]"),
      processes: JSON.parse(root.dataset.processes || "[]"),
      request: request
    });
    modeler.get("eventBus").on("commandStack.changed", function () {
      dirty = true;
      say(t("unsaved"));
    });
    studio.panel = panel;
    return fetch("/api/v1/drafts/" + draftId + "/files/" + encodeURIComponent(fileName), { credentials: "same-origin" });
  }).then(function (response) {
    return response.text();
  }).then(function (xml) {
    return importXml(xml);
  }).catch(function (error) {
    say(String(error && error.message || error), true);
    throw error;
  });

  function importXml(xml) {
    marked = []; // the elements they were on go with the old diagram
    return modeler.importXML(xml).then(function (result) {
      showReadably(modeler.get("canvas"));
      dirty = false;
      return { warnings: (result.warnings || []).map(function (w) { return String(w.message || w); }) };
    });
  }

  // The whole diagram when it is legible that way; a large one at full size from its top left corner.
  function showReadably(canvas) {
    var scale = canvas.zoom("fit-viewport", "auto");
    if (scale >= 0.7) return;
    var inner = canvas.viewbox().inner;
    var outer = canvas.viewbox().outer;
    canvas.viewbox({ x: inner.x - 20, y: inner.y - 20, width: outer.width, height: outer.height });
  }

  function exportXml() {
    return modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
  }

  // Save the diagram into the draft (as `name`, or its own file; `replace` removes the old BPMN file).
  function save(name, replace) {
    say(t("saving"));
    return exportXml().then(function (xml) {
      var files = {};
      var target = name || fileName;
      files[target] = xml;
      var body = { files: files };
      if (name && replace && name !== fileName) body.remove = [fileName];
      return request("PATCH", "/api/v1/drafts/" + draftId, body).then(function () {
        fileName = target;
        dirty = false;
        say(t("saved"));
      });
    }).catch(function (error) { say(t("save_failed") + " " + error.message, true); throw error; });
  }

  // --- problems on the diagram ------------------------------------------------------------------

  function clearMarks() {
    if (!modeler) return;
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    marked.forEach(function (mark) { if (registry.get(mark[0])) canvas.removeMarker(mark[0], mark[1]); });
    marked = [];
  }

  function focusElement(id) {
    var element = modeler.get("elementRegistry").get(id);
    if (!element) return false;
    var canvas = modeler.get("canvas");
    if (canvas.scrollToElement) canvas.scrollToElement(element, { top: 80, bottom: 80, left: 80, right: 300 });
    modeler.get("selection").select(element);
    return true;
  }

  function showProblems(report) {
    clearMarks();
    list.innerHTML = "";
    var registry = modeler.get("elementRegistry");
    var canvas = modeler.get("canvas");
    if (!report.problems.length) {
      summary.textContent = t("no_problems");
      return report;
    }
    summary.textContent = t("problems.count", { errors: report.errors, warnings: report.warnings });
    report.problems.forEach(function (problem) {
      var onDiagram = problem.element_id && (!problem.file || problem.file === fileName) && registry.get(problem.element_id);
      if (onDiagram) {
        var marker = "gf-problem-" + problem.severity;
        canvas.addMarker(problem.element_id, marker);
        marked.push([problem.element_id, marker]);
      }
      var element = onDiagram ? registry.get(problem.element_id).businessObject : null;
      var where = element ? (element.name || element.id) : (problem.element_id || problem.file);
      var item = document.createElement("li");
      item.className = "problem-" + problem.severity;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "studio-problem";
      button.dataset.element = problem.element_id || "";
      button.innerHTML = "";
      var badge = document.createElement("span");
      badge.className = "severity severity-" + problem.severity;
      badge.textContent = problem.severity_label;
      var place = document.createElement("span");
      place.className = "where";
      place.textContent = where + (problem.file ? " · " + problem.file : "");
      var text = document.createElement("span");
      text.className = "message";
      text.textContent = problem.message;
      button.appendChild(badge);
      button.appendChild(place);
      button.appendChild(text);
      button.disabled = !onDiagram;
      button.addEventListener("click", function () { focusElement(problem.element_id); });
      item.appendChild(button);
      list.appendChild(item);
    });
    return report;
  }

  function validate() {
    return save().then(function () {
      say(t("validating"));
      summary.textContent = t("validating");
      return request("POST", "/studio/drafts/" + draftId + "/problems");
    }).then(function (report) {
      say("");
      return showProblems(report);
    });
  }

  function deploy() {
    var notice = document.getElementById("studio-deployed");
    notice.hidden = true;
    return save().then(function () {
      return request("POST", "/api/v1/drafts/" + draftId + "/deploy");
    }).then(function (result) {
      var mine = result.processes[0] || {};
      notice.textContent = t("deployed", { key: mine.key || "", version: mine.version || "" });
      notice.hidden = false;
      say("");
      return validate().then(function () { return result; });
    }).catch(function (error) {
      if (error.status === 422) {
        say(t("deploy_failed"), true);
        return validate().then(function () { return null; });
      }
      say(error.message, true);
      return null;
    });
  }

  function newFile(kind) {
    var id = window.prompt(kind === "form" ? t("file.form_id") : t("file.dmn_id"));
    if (!id || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(id)) return Promise.resolve(null);
    var files = {};
    if (kind === "form") {
      files[id + ".form.json"] = JSON.stringify({ type: "default", id: id, schemaVersion: 16, components: [] }, null, 2);
    } else {
      files[id + ".dmn"] = emptyDecision(id);
    }
    var target = Object.keys(files)[0];
    return (dirty ? save() : Promise.resolve()).then(function () {
      return request("PATCH", "/api/v1/drafts/" + draftId, { files: files });
    }).then(function () { window.location.href = "/studio/drafts/" + draftId + "/edit/" + encodeURIComponent(target); });
  }

  function emptyDecision(id) {
    return '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="' + id + '_definitions" name="' + id + '" namespace="https://govflow.example/dmn">\n' +
      '  <decision id="' + id + '" name="' + id + '">\n' +
      '    <decisionTable id="' + id + '_table" hitPolicy="FIRST">\n' +
      '      <input id="' + id + '_input" label="input"><inputExpression id="' + id + '_input_expression" typeRef="string"><text>value</text></inputExpression></input>\n' +
      '      <output id="' + id + '_output" name="result" typeRef="string"/>\n' +
      '    </decisionTable>\n  </decision>\n</definitions>\n';
  }

  var studio = {
    ready: ready,
    importXml: function (xml) { return ready.then(function () { return importXml(xml); }); },
    exportXml: function () { return ready.then(exportXml); },
    save: function (name, replace) { return ready.then(function () { return save(name, replace); }); },
    validate: function () { return ready.then(validate); },
    deploy: function () { return ready.then(deploy); },
    focus: focusElement,
    modeler: function () { return modeler; }
  };
  window.govflowStudio = studio;

  document.getElementById("studio-save").addEventListener("click", function () { studio.save(); });
  document.getElementById("studio-validate").addEventListener("click", function () { studio.validate(); });
  document.getElementById("studio-deploy").addEventListener("click", function () { studio.deploy(); });
  document.getElementById("studio-new-form").addEventListener("click", function () { newFile("form"); });
  document.getElementById("studio-new-dmn").addEventListener("click", function () { newFile("dmn"); });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = t("leave_unsaved"); }
  });
})();
