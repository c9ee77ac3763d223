// govflow's properties panel for bpmn-js: what a govflow process needs, edited without XML. Plain JS on
// bpmn-js's modeling API (every change can be undone), writing the SpiffWorkflow extension elements the
// engine reads (spiffworkflow:properties formKey / matterKind / assistedMatter, spiffworkflow:calledDecisionId).
// No build step: this file is served as it is and exposes window.GovflowPanel.
(function () {
  "use strict";

  var ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_.\-]*$/;
  var TIMER_KINDS = ["timeDuration", "timeDate", "timeCycle"];
  var CHOOSING = { "bpmn:ExclusiveGateway": 1, "bpmn:InclusiveGateway": 1 };
  var MESSAGE_TASKS = { "bpmn:SendTask": 1, "bpmn:ReceiveTask": 1 };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else if (attrs[key] !== undefined && attrs[key] !== null && attrs[key] !== false) node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function is(bo, type) { return bo && bo.$instanceOf && bo.$instanceOf(type); }

  function GovflowPanel(modeler, container, options) {
    this.modeler = modeler;
    this.container = container;
    this.options = options;
    this.texts = options.texts;
    this.modeling = modeler.get("modeling");
    this.moddle = modeler.get("moddle");
    this.registry = modeler.get("elementRegistry");
    this.canvas = modeler.get("canvas");
    this.bpmnFactory = modeler.get("bpmnFactory");
    this.elementFactory = modeler.get("elementFactory");
    this.selection = modeler.get("selection");
    this.current = null;
    this.timerRequests = 0;
    var self = this;
    var eventBus = modeler.get("eventBus");
    eventBus.on("selection.changed", function (event) {
      var chosen = event.newSelection.length === 1 ? event.newSelection[0] : null;
      self.show(chosen);
    });
    eventBus.on("elements.changed", function (event) {
      if (self.busy) return;
      var ids = event.elements.map(function (e) { return e.id; });
      var shown = self.current;
      if (!shown || ids.indexOf(shown.id) >= 0 || ids.indexOf(self.rootElement().id) >= 0) self.show(shown);
    });
    eventBus.on("import.done", function () { self.show(null); });
  }

  GovflowPanel.prototype.t = function (key, params) {
    var text = this.texts[key] || key;
    Object.keys(params || {}).forEach(function (name) { text = text.split("{" + name + "}").join(params[name]); });
    return text;
  };

  GovflowPanel.prototype.rootElement = function () { return this.canvas.getRootElement(); };

  // The process the diagram shows: the root process, or the process of the (first) pool.
  GovflowPanel.prototype.processOf = function (element) {
    var bo = element ? element.businessObject : this.rootElement().businessObject;
    if (is(bo, "bpmn:Participant")) return { element: element, bo: bo.processRef };
    if (is(bo, "bpmn:Process")) return { element: element || this.rootElement(), bo: bo };
    if (is(bo, "bpmn:Collaboration")) {
      var pool = (bo.participants || []).find(function (p) { return p.processRef; });
      var shape = pool ? this.registry.get(pool.id) : null;
      return pool ? { element: shape || this.rootElement(), bo: pool.processRef } : null;
    }
    return null;
  };

  // --- extension elements ------------------------------------------------------------------------

  GovflowPanel.prototype.extension = function (bo, type) {
    var values = (bo.extensionElements && bo.extensionElements.get("values")) || [];
    return values.find(function (v) { return v.$type === type; }) || null;
  };

  GovflowPanel.prototype.ensureExtensions = function (element, bo) {
    if (!bo.extensionElements) {
      var created = this.moddle.create("bpmn:ExtensionElements", { values: [] });
      created.$parent = bo;
      this.modeling.updateModdleProperties(element, bo, { extensionElements: created });
    }
    return bo.extensionElements;
  };

  GovflowPanel.prototype.property = function (bo, name) {
    var props = this.extension(bo, "spiffworkflow:Properties");
    var found = props && props.get("properties").find(function (p) { return p.name === name; });
    return found ? found.value || "" : "";
  };

  GovflowPanel.prototype.setProperty = function (element, bo, name, value) {
    value = (value || "").trim();
    var props = this.extension(bo, "spiffworkflow:Properties");
    if (!value && !props) return;
    var extensions = this.ensureExtensions(element, bo);
    if (!props) {
      props = this.moddle.create("spiffworkflow:Properties", { properties: [] });
      props.$parent = extensions;
      this.modeling.updateModdleProperties(element, extensions, { values: extensions.get("values").concat([props]) });
    }
    var list = props.get("properties");
    var found = list.find(function (p) { return p.name === name; });
    if (!value) {
      if (found) this.modeling.updateModdleProperties(element, props, { properties: list.filter(function (p) { return p !== found; }) });
    } else if (found) {
      this.modeling.updateModdleProperties(element, found, { value: value });
    } else {
      var prop = this.moddle.create("spiffworkflow:Property", { name: name, value: value });
      prop.$parent = props;
      this.modeling.updateModdleProperties(element, props, { properties: list.concat([prop]) });
    }
  };

  GovflowPanel.prototype.bodyExtension = function (bo, type) {
    var found = this.extension(bo, type);
    return found ? found.value || "" : "";
  };

  GovflowPanel.prototype.setBodyExtension = function (element, bo, type, value) {
    value = (value || "").trim();
    var found = this.extension(bo, type);
    if (!value && !found) return;
    var extensions = this.ensureExtensions(element, bo);
    var values = extensions.get("values");
    if (!value) {
      this.modeling.updateModdleProperties(element, extensions, { values: values.filter(function (v) { return v !== found; }) });
    } else if (found) {
      this.modeling.updateModdleProperties(element, found, { value: value });
    } else {
      var created = this.moddle.create(type, { value: value });
      created.$parent = extensions;
      this.modeling.updateModdleProperties(element, extensions, { values: values.concat([created]) });
    }
  };

  // --- the form -------------------------------------------------------------------------------------

  GovflowPanel.prototype.field = function (key, label, input, hint) {
    var id = "gf-prop-" + key;
    input.id = id;
    var nodes = [el("label", { "for": id, text: label }), input];
    if (hint) {
      var hintId = id + "-hint";
      input.setAttribute("aria-describedby", hintId);
      nodes.push(el("small", { id: hintId, className: "hint", text: hint }));
    }
    return el("div", { className: "gf-field" }, nodes);
  };

  GovflowPanel.prototype.text = function (key, label, value, onChange, hint, multiline) {
    var input = el(multiline ? "textarea" : "input", multiline ? { rows: "5", spellcheck: "false" } : { type: "text" });
    input.value = value || "";
    input.addEventListener("change", function () { onChange(input.value, input); });
    return this.field(key, label, input, hint);
  };

  // A text field that suggests values (a datalist): the designer may still type another.
  GovflowPanel.prototype.withChoices = function (field, listId, values) {
    var list = el("datalist", { id: listId });
    values.forEach(function (value) { list.appendChild(el("option", { value: value })); });
    field.querySelector("input").setAttribute("list", listId);
    field.appendChild(list);
    return field;
  };

  GovflowPanel.prototype.choice = function (key, label, value, options, onChange, hint) {
    var select = el("select", {});
    options.forEach(function (option) {
      var node = el("option", { value: option.value, text: option.label });
      if (option.value === value) node.selected = true;
      select.appendChild(node);
    });
    if (value && !options.some(function (o) { return o.value === value; })) {
      var extra = el("option", { value: value, text: value });
      extra.selected = true;
      select.appendChild(extra);
    }
    select.addEventListener("change", function () { onChange(select.value); });
    return this.field(key, label, select, hint);
  };

  GovflowPanel.prototype.change = function (action) {
    this.busy = true;
    try { action(); } catch (error) { this.say(String(error && error.message || error), true); }
    finally { this.busy = false; }
    this.show(this.current && this.registry.get(this.current.id) ? this.current : null);
  };

  GovflowPanel.prototype.say = function (message, isError) {
    var note = this.container.querySelector(".gf-panel-note");
    if (note) { note.textContent = message; note.className = "gf-panel-note" + (isError ? " gf-error" : ""); }
  };

  GovflowPanel.prototype.show = function (element) {
    this.current = element;
    var box = this.container;
    box.innerHTML = "";
    var parts = [];
    if (!element || element === this.rootElement() || is(element.businessObject, "bpmn:Participant")) {
      parts = this.processParts(element && element !== this.rootElement() ? element : null);
    } else if (element.type === "label") {
      return this.show(element.labelTarget);
    } else {
      parts = this.elementParts(element);
    }
    parts.push(el("p", { className: "gf-panel-note", role: "status", "aria-live": "polite" }));
    parts.forEach(function (part) { if (part) box.appendChild(part); });
  };

  // --- the process ----------------------------------------------------------------------------------

  GovflowPanel.prototype.processParts = function (pool) {
    var self = this;
    var process = this.processOf(pool);
    var parts = [el("h2", { text: this.t("panel.process") })];
    if (!process) { parts.push(el("p", { className: "muted", text: this.t("panel.nothing") })); return parts; }
    var element = process.element, bo = process.bo;
    parts.push(this.idField(element, bo));
    parts.push(this.text("name", this.t("panel.name"), bo.name, function (value) {
      self.change(function () { self.modeling.updateModdleProperties(element, bo, { name: value }); });
    }));
    var executable = el("input", { type: "checkbox" });
    executable.checked = bo.isExecutable === true;
    executable.addEventListener("change", function () {
      self.change(function () { self.modeling.updateModdleProperties(element, bo, { isExecutable: executable.checked }); });
    });
    parts.push(this.field("executable", this.t("panel.executable"), executable));
    var kind = this.property(bo, "matterKind") || (this.property(bo, "assistedMatter") ? "assisted_matter" : "");
    parts.push(this.choice("matter-kind", this.t("panel.matter_kind"), kind, [
      { value: "", label: this.t("panel.matter_none") },
      { value: "self_governance", label: this.t("panel.matter_self") },
      { value: "assisted_matter", label: this.t("panel.matter_assisted") }
    ], function (value) {
      self.change(function () {
        self.setProperty(element, bo, "matterKind", value);
        if (value !== "assisted_matter") self.setProperty(element, bo, "assistedMatter", "");
      });
    }));
    if (kind === "assisted_matter") {
      parts.push(this.text("assisted-matter", this.t("panel.assisted_matter"), this.property(bo, "assistedMatter"), function (value) {
        self.change(function () { self.setProperty(element, bo, "assistedMatter", value); });
      }));
    }
    return parts;
  };

  GovflowPanel.prototype.idField = function (element, bo) {
    var self = this;
    return this.text("id", this.t("panel.id"), bo.id, function (value, input) {
      value = value.trim();
      if (value === bo.id) return;
      if (!ID_PATTERN.test(value)) { input.value = bo.id; self.say(self.t("panel.id_bad"), true); return; }
      if (self.moddle.ids && self.moddle.ids.assigned(value)) { input.value = bo.id; self.say(self.t("panel.id_taken", { id: value }), true); return; }
      self.change(function () {
        if (element.businessObject === bo) self.modeling.updateProperties(element, { id: value });
        else self.modeling.updateModdleProperties(element, bo, { id: value });
      });
    });
  };

  // --- one element ----------------------------------------------------------------------------------

  GovflowPanel.prototype.laneOf = function (element) {
    var bo = element.businessObject;
    var lanes = this.registry.filter(function (e) { return e.type === "bpmn:Lane"; });
    var found = null;
    lanes.forEach(function (lane) {
      var refs = lane.businessObject.get("flowNodeRef") || [];
      if (refs.indexOf(bo) >= 0) found = lane; // the innermost lane comes last
    });
    return found;
  };

  GovflowPanel.prototype.roleOf = function (lane) {
    var roles = this.options.roles.map(function (r) { return r.id; });
    var id = lane.businessObject.id || "", name = (lane.businessObject.name || "").trim();
    if (roles.indexOf(id) >= 0) return id;
    if (roles.indexOf(name) >= 0) return name;
    if (id.indexOf("Lane_") === 0 && roles.indexOf(id.slice(5)) >= 0) return id.slice(5);
    return "";
  };

  GovflowPanel.prototype.roleLabel = function (role) {
    var found = this.options.roles.find(function (r) { return r.id === role; });
    return found ? found.label : role;
  };

  GovflowPanel.prototype.elementParts = function (element) {
    var self = this;
    var bo = element.businessObject;
    var parts = [el("h2", { text: bo.name || bo.id }), el("p", { className: "muted", text: this.t("panel.type") + ": " + bo.$type.replace("bpmn:", "") })];
    parts.push(this.idField(element, bo));
    parts.push(this.text("name", this.t("panel.name"), bo.name, function (value) {
      self.change(function () { self.modeling.updateLabel(element, value); });
    }));
    if (is(bo, "bpmn:Lane")) parts.push(this.laneRole(element));
    if (is(bo, "bpmn:FlowNode") && !is(bo, "bpmn:BoundaryEvent")) {
      var lane = this.laneOf(element);
      var role = lane ? this.roleOf(lane) : "";
      var where = lane ? (lane.businessObject.name || lane.id) + (role ? " · " + this.roleLabel(role) : " · " + this.t("panel.lane_none")) : this.t("panel.lane_none");
      parts.push(el("p", { className: "gf-lane", text: this.t("panel.lane") + ": " + where }));
    }
    if (is(bo, "bpmn:UserTask")) parts = parts.concat(this.userTaskParts(element, bo));
    if (is(bo, "bpmn:SequenceFlow")) parts = parts.concat(this.flowParts(element, bo));
    if (CHOOSING[bo.$type]) parts.push(this.defaultFlow(element, bo));
    if (is(bo, "bpmn:ScriptTask")) {
      parts.push(this.text("script", this.t("panel.script"), bo.script, function (value) {
        self.change(function () { self.modeling.updateProperties(element, { scriptFormat: "python", script: value }); });
      }, null, true));
    }
    if (is(bo, "bpmn:BusinessRuleTask")) {
      parts.push(this.withChoices(this.text("decision", this.t("panel.decision"), this.bodyExtension(bo, "spiffworkflow:CalledDecisionId"), function (value) {
        self.change(function () { self.setBodyExtension(element, bo, "spiffworkflow:CalledDecisionId", value); });
      }), "gf-decisions", this.options.decisions || []));
    }
    if (is(bo, "bpmn:CallActivity")) {
      parts.push(this.withChoices(this.text("called", this.t("panel.called_element"), bo.calledElement, function (value) {
        self.change(function () { self.modeling.updateProperties(element, { calledElement: value.trim() || undefined }); });
      }), "gf-processes", this.options.processes));
    }
    var timer = this.eventDefinition(bo, "bpmn:TimerEventDefinition");
    if (timer) parts = parts.concat(this.timerParts(element, bo, timer));
    var message = this.eventDefinition(bo, "bpmn:MessageEventDefinition");
    if (message || MESSAGE_TASKS[bo.$type]) parts.push(this.messageField(element, message || bo));
    return parts;
  };

  GovflowPanel.prototype.eventDefinition = function (bo, type) {
    return (bo.eventDefinitions || []).find(function (d) { return d.$type === type; }) || null;
  };

  GovflowPanel.prototype.laneRole = function (lane) {
    var self = this;
    var options = [{ value: "", label: this.t("panel.role_pick") }].concat(this.options.roles.map(function (r) {
      return { value: r.id, label: r.label + " (" + r.id + ")" };
    }));
    return this.choice("role", this.t("panel.lane_role"), this.roleOf(lane), options, function (role) {
      if (!role) return;
      if (self.moddle.ids.assigned(role) && self.registry.get(role) !== lane) { self.say(self.t("panel.id_taken", { id: role }), true); return; }
      self.change(function () {
        self.modeling.updateProperties(lane, { id: role });
        if (!(lane.businessObject.name || "").trim()) self.modeling.updateLabel(lane, self.roleLabel(role));
      });
    });
  };

  GovflowPanel.prototype.userTaskParts = function (element, bo) {
    var self = this;
    var parts = [];
    var options = [{ value: "", label: this.t("panel.form_pick") }].concat(this.options.forms.map(function (f) { return { value: f, label: f }; }));
    parts.push(this.choice("form", this.t("panel.form"), this.property(bo, "formKey"), options, function (value) {
      self.change(function () { self.setProperty(element, bo, "formKey", value); });
    }, this.t("panel.form_hint")));
    // Deadlines: the boundary timers on the task (the inbox's due date comes from them).
    var attached = (element.attachers || []).filter(function (a) { return self.eventDefinition(a.businessObject, "bpmn:TimerEventDefinition"); });
    var box = el("div", { className: "gf-deadlines" }, [el("h3", { text: this.t("panel.deadline") })]);
    attached.forEach(function (event) {
      var link = el("button", { type: "button", className: "link-button", text: (event.businessObject.name || event.id) + " · " + self.timerText(event.businessObject) });
      link.addEventListener("click", function () { self.selection.select(event); });
      box.appendChild(link);
    });
    var add = el("button", { type: "button", text: this.t("panel.add_deadline") });
    add.addEventListener("click", function () {
      var created;
      self.change(function () {
        var shape = self.elementFactory.createShape({ type: "bpmn:BoundaryEvent", eventDefinitionType: "bpmn:TimerEventDefinition" });
        shape.businessObject.cancelActivity = false;
        created = self.modeling.createShape(shape, { x: element.x + element.width - 10, y: element.y + element.height }, element, { attach: true });
        var definition = created.businessObject.eventDefinitions[0];
        var expression = self.moddle.create("bpmn:FormalExpression", { body: "P7D" });
        self.modeling.updateModdleProperties(created, definition, { timeDuration: expression });
      });
      if (created) self.selection.select(created);
    });
    box.appendChild(add);
    parts.push(box);
    return parts;
  };

  GovflowPanel.prototype.timerText = function (bo) {
    var definition = this.eventDefinition(bo, "bpmn:TimerEventDefinition");
    if (!definition) return "";
    var kind = TIMER_KINDS.find(function (k) { return definition[k]; });
    return kind ? definition[kind].body || "" : "";
  };

  GovflowPanel.prototype.timerParts = function (element, bo, definition) {
    var self = this;
    var kind = TIMER_KINDS.find(function (k) { return definition[k]; }) || "timeDuration";
    var value = definition[kind] ? definition[kind].body || "" : "";
    var parts = [el("h3", { text: this.t("panel.timer") })];
    var result = el("output", { className: "gf-timer-result", "aria-live": "polite" });
    function apply(newKind, text) {
      self.change(function () {
        var props = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
        props[newKind] = self.moddle.create("bpmn:FormalExpression", { body: text });
        self.modeling.updateModdleProperties(element, definition, props);
      });
    }
    parts.push(this.choice("timer-kind", this.t("panel.timer_kind"), kind, TIMER_KINDS.map(function (k) {
      return { value: k, label: self.t("kind." + k) };
    }), function (newKind) { apply(newKind, value); }));
    var field = this.text("timer-value", this.t("panel.timer_value"), value, function (text) { apply(kind, text.trim()); }, this.t("panel.timer_hint"));
    var input = field.querySelector("input");
    var pending = null;
    input.addEventListener("input", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { self.checkTimer(kind, input.value, result, input); }, 350);
    });
    field.appendChild(result);
    parts.push(field);
    if (is(bo, "bpmn:BoundaryEvent")) {
      var interrupting = el("input", { type: "checkbox" });
      interrupting.checked = bo.cancelActivity !== false;
      interrupting.addEventListener("change", function () {
        self.change(function () { self.modeling.updateProperties(element, { cancelActivity: interrupting.checked }); });
      });
      parts.push(this.field("interrupting", this.t("panel.interrupting"), interrupting));
    }
    if (value) this.checkTimer(kind, value, result, input);
    return parts;
  };

  // The server checks a timer as the designer types: the same checks as deploying, and what a rule gives.
  GovflowPanel.prototype.checkTimer = function (kind, text, output, input) {
    var self = this;
    var ticket = ++this.timerRequests;
    output.textContent = this.t("panel.timer_checking");
    output.className = "gf-timer-result";
    this.options.request("POST", "/api/v1/studio/timer-check", { kind: kind, text: text }).then(function (answer) {
      if (ticket !== self.timerRequests) return;
      if (answer.ok) {
        output.textContent = self.t("panel.timer_ok") + (answer.value ? " " + self.t("panel.timer_value_now", { value: answer.value }) : "");
        output.className = "gf-timer-result gf-ok";
        input.removeAttribute("aria-invalid");
      } else {
        output.textContent = answer.problems.map(function (p) { return p.message; }).join(" ");
        output.className = "gf-timer-result gf-error";
        input.setAttribute("aria-invalid", "true");
      }
    }).catch(function () { output.textContent = ""; });
  };

  GovflowPanel.prototype.flowParts = function (element, bo) {
    var self = this;
    var parts = [];
    var source = bo.sourceRef;
    parts.push(this.text("condition", this.t("panel.condition"), bo.conditionExpression ? bo.conditionExpression.body : "", function (value) {
      self.change(function () {
        var expression = value.trim() ? self.moddle.create("bpmn:FormalExpression", { body: value.trim() }) : undefined;
        self.modeling.updateProperties(element, { conditionExpression: expression });
      });
    }, this.t("panel.condition_hint"), true));
    if (source && CHOOSING[source.$type]) {
      var box = el("input", { type: "checkbox" });
      box.checked = source.default === bo;
      box.addEventListener("change", function () {
        var gateway = self.registry.get(source.id);
        self.change(function () { self.modeling.updateProperties(gateway, { "default": box.checked ? bo : undefined }); });
      });
      parts.push(this.field("is-default", this.t("panel.is_default"), box));
    }
    return parts;
  };

  GovflowPanel.prototype.defaultFlow = function (element, bo) {
    var self = this;
    var options = [{ value: "", label: this.t("panel.default_none") }].concat((bo.outgoing || []).map(function (flow) {
      var target = flow.targetRef ? (flow.targetRef.name || flow.targetRef.id) : "";
      return { value: flow.id, label: (flow.name || flow.id) + " → " + target };
    }));
    return this.choice("default-flow", this.t("panel.default_flow"), bo.default ? bo.default.id : "", options, function (id) {
      var flow = (bo.outgoing || []).find(function (f) { return f.id === id; });
      self.change(function () { self.modeling.updateProperties(element, { "default": flow || undefined }); });
    });
  };

  // A message is named once (bpmn:Message); events and tasks refer to it.
  GovflowPanel.prototype.messageField = function (element, holder) {
    var self = this;
    var current = holder.messageRef ? holder.messageRef.name || holder.messageRef.id : "";
    return this.text("message", this.t("panel.message"), current, function (value) {
      value = value.trim();
      self.change(function () {
        if (!value) { self.modeling.updateModdleProperties(element, holder, { messageRef: undefined }); return; }
        var definitions = self.modeler.getDefinitions();
        var message = (definitions.rootElements || []).find(function (r) { return is(r, "bpmn:Message") && r.name === value; });
        if (!message) {
          message = self.bpmnFactory.create("bpmn:Message", { name: value });
          message.$parent = definitions;
          self.modeling.updateModdleProperties(self.rootElement(), definitions, { rootElements: definitions.get("rootElements").concat([message]) });
        }
        self.modeling.updateModdleProperties(element, holder, { messageRef: message });
      });
    }, this.t("panel.message_hint"));
  };

  window.GovflowPanel = GovflowPanel;
})();
