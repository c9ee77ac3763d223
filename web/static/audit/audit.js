// The auditor's case page: the bpmn-js viewer with the path marked (completed, active, flows taken,
// a count on elements visited more than once); a click on a timeline event highlights its element; the
// slider replays the case event by event. No build step: this file is served as it is.
(function () {
  "use strict";

  var MARKERS = ["gf-done", "gf-current", "gf-flow"];
  // What an audit event does to its element while replaying.
  var ACTIVATES = { task_created: 1, task_reopened: 1 };
  var COMPLETES = { task_completed: 1, gateway_taken: 1, end_event_reached: 1, message_received: 1 };
  var ENDS = { task_cancelled: 1, task_withdrawn: 1 };

  function readData(node, name, fallback) {
    try { return JSON.parse(node.dataset[name] || ""); } catch (e) { return fallback; }
  }

  function replayState(events, upTo, path, flows) {
    var done = {}, active = {};
    var incoming = {};
    flows.forEach(function (f) { incoming[f[2]] = true; });
    for (var i = 0; i < upTo; i++) {
      var e = events[i];
      if (e.action === "instance_started") {
        path.completed.forEach(function (id) { if (!incoming[id]) done[id] = true; }); // the start events
      }
      if (!e.element) continue;
      if (ACTIVATES[e.action]) active[e.element] = true;
      if (COMPLETES[e.action]) { delete active[e.element]; done[e.element] = true; }
      if (ENDS[e.action]) delete active[e.element];
    }
    var taken = path.flows.filter(function (id) {
      var flow = flows.find(function (f) { return f[0] === id; });
      return flow && done[flow[1]] && (done[flow[2]] || active[flow[2]]);
    });
    return { completed: Object.keys(done), active: Object.keys(active), flows: taken };
  }

  function mount() {
    var container = document.getElementById("audit-diagram");
    if (!container || !window.BpmnJS) return;
    var path = readData(container, "path", { completed: [], active: [], flows: [], counts: {} });
    var events = readData(container, "replay", []);
    var flows = readData(container, "flows", []);
    var slider = document.getElementById("replay");
    var output = document.getElementById("replay-step");
    var viewer = new window.BpmnJS({ container: container });
    var focused = null;

    fetch(container.dataset.xmlUrl, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        var overlays = viewer.get("overlays");

        function show(state) {
          registry.getAll().forEach(function (element) {
            MARKERS.forEach(function (m) { canvas.removeMarker(element.id, m); });
          });
          state.completed.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "gf-done"); });
          state.active.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "gf-current"); });
          state.flows.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "gf-flow"); });
          container.dataset.marked = String(state.completed.length + state.active.length);
        }

        Object.keys(path.counts || {}).forEach(function (id) {
          if (!registry.get(id)) return;
          var badge = document.createElement("span");
          badge.className = "gf-count";
          badge.textContent = "×" + path.counts[id];
          badge.setAttribute("aria-label", badge.textContent);
          overlays.add(id, "gf-count", { position: { top: -10, right: 10 }, html: badge });
        });

        function replayTo(k) {
          show(k >= events.length ? path : replayState(events, k, path, flows));
          if (output) {
            output.textContent = output.dataset.template.replace("{k}", String(k)).replace("{n}", String(events.length));
          }
          document.querySelectorAll("#audit-timeline li").forEach(function (li, index) {
            li.classList.toggle("future", index >= k);
          });
        }

        if (slider) slider.addEventListener("input", function () { replayTo(Number(slider.value)); });

        document.querySelectorAll("#audit-timeline button.event").forEach(function (button) {
          button.addEventListener("click", function () {
            var element = button.dataset.element;
            if (focused && registry.get(focused)) canvas.removeMarker(focused, "gf-focus");
            document.querySelectorAll("#audit-timeline li[aria-current]").forEach(function (li) {
              li.removeAttribute("aria-current");
            });
            button.parentNode.setAttribute("aria-current", "step");
            focused = element && registry.get(element) ? element : null;
            if (focused) canvas.addMarker(focused, "gf-focus");
            container.dataset.focused = focused || "";
          });
        });

        show(path);
        canvas.zoom("fit-viewport");
        container.dataset.ready = "true";
      })
      .catch(function () { container.dataset.ready = "failed"; });
  }

  document.addEventListener("DOMContentLoaded", mount);
})();
