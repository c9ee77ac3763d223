"""The diagram of the printable case file, drawn on the server as plain SVG from the BPMN's own layout
(BPMN DI): the file must print and read offline, with no script. On screen the workspace shows the same
path in the bpmn-js viewer; this drawing is the paper copy of it (shapes, names, the path marked)."""

from __future__ import annotations

from markupsafe import Markup, escape

from engine.spiff.safe_xml import local_name, read_xml

DI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
OMGDI = "http://www.omg.org/spec/DD/20100524/DI"
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway": "×", "parallelGateway": "+", "inclusiveGateway": "○", "eventBasedGateway": "◇"}
CONTAINERS = {"participant", "lane"}
CHAR_WIDTH = 12  # px per character of a label (CJK), for wrapping inside a task's box
DONE, ACTIVE, FLOW = "#1b6e35", "#b3261e", "#1b6e35"


def diagram_svg(xml: str, path: dict, names: dict[str, str] | None = None) -> Markup:
    """An <svg> of the process with completed elements, active ones and the flows taken marked."""
    if not xml:
        return Markup("")
    root = read_xml(xml.encode("utf-8"))
    kinds: dict[str, tuple[str, str]] = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("id"):
            kinds[element.get("id")] = (local_name(element), element.get("name") or "")
    done, active, flows = set(path.get("completed", [])), set(path.get("active", [])), set(path.get("flows", []))
    counts = path.get("counts", {})
    shapes, edges = [], []
    for shape in root.iter(f"{{{DI}}}BPMNShape"):
        bounds = shape.find(f"{{{DC}}}Bounds")
        if bounds is not None:
            box = tuple(float(bounds.get(k, 0)) for k in ("x", "y", "width", "height"))
            shapes.append((shape.get("bpmnElement") or "", box))
    for edge in root.iter(f"{{{DI}}}BPMNEdge"):
        points = [(float(p.get("x", 0)), float(p.get("y", 0))) for p in edge.iter(f"{{{OMGDI}}}waypoint")]
        if len(points) >= 2:
            edges.append((edge.get("bpmnElement") or "", points))
    if not shapes:
        return Markup("")
    xs = [b[0] for _, b in shapes] + [b[0] + b[2] for _, b in shapes] + [x for _, ps in edges for x, _ in ps]
    ys = [b[1] for _, b in shapes] + [b[1] + b[3] for _, b in shapes] + [y for _, ps in edges for _, y in ps]
    left, top = min(xs) - 10, min(ys) - 10
    width, height = max(xs) - left + 10, max(ys) - top + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="case-diagram" viewBox="{left:.0f} {top:.0f} {width:.0f} '
        f'{height:.0f}" role="img" aria-labelledby="diagram-caption">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>',
    ]
    for element_id, (x, y, w, h) in shapes:
        kind, name = kinds.get(element_id, ("", ""))
        if kind in CONTAINERS:
            parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="none" stroke="#8a93a5"/>')
            parts.append(
                f'<text x="{x + 15}" y="{y + h / 2}" transform="rotate(-90 {x + 15} {y + h / 2})" '
                f'text-anchor="middle" font-size="12">{escape(name)}</text>'
            )
    for flow_id, points in edges:
        taken = flow_id in flows
        line = " ".join(f"{x},{y}" for x, y in points)
        stroke = f'stroke="{FLOW}" stroke-width="2.5"' if taken else 'stroke="#5b6475" stroke-width="1.2"'
        parts.append(f'<polyline points="{line}" fill="none" {stroke} marker-end="url(#arrow)"/>')
    for element_id, box in shapes:
        kind, name = kinds.get(element_id, ("", ""))
        if kind in CONTAINERS:
            continue
        label = (names or {}).get(element_id) or name
        state = "active" if element_id in active else "done" if element_id in done else ""
        parts.append(_shape(kind, box, label, state, counts.get(element_id)))
    parts.append("</svg>")
    return Markup("".join(parts))


def _shape(kind: str, box: tuple[float, float, float, float], label: str, state: str, count: int | None) -> str:
    x, y, w, h = box
    fill = {"done": "#e7f4ea", "active": "#fff3d6"}.get(state, "#ffffff")
    stroke = {"done": DONE, "active": ACTIVE}.get(state, "#1d2433")
    weight = 3 if state == "active" else 1.5
    out = []
    if kind in EVENTS:
        r = min(w, h) / 2
        out.append(
            f'<circle cx="{x + r}" cy="{y + r}" r="{r}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{4 if kind == "endEvent" else weight}"/>'
        )
        out.append(_text(x + w / 2, y + h + 14, label, 12))
    elif kind in GATEWAYS:
        cx, cy = x + w / 2, y + h / 2
        out.append(
            f'<polygon points="{cx},{y} {x + w},{cy} {cx},{y + h} {x},{cy}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{weight}"/>'
        )
        out.append(f'<text x="{cx}" y="{cy + 7}" text-anchor="middle" font-size="20">{GATEWAYS[kind]}</text>')
        out.append(_text(cx, y + h + 14, label, 12))
    else:
        out.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{weight}"/>'
        )
        per_line = max(1, int((w - 8) // CHAR_WIDTH))
        lines = [label[i : i + per_line] for i in range(0, len(label), per_line)][:4] or [""]
        first = y + h / 2 - (len(lines) - 1) * 8 + 4
        out.extend(_text(x + w / 2, first + n * 16, text, 13) for n, text in enumerate(lines))
    if count:
        out.append(
            f'<circle cx="{x + w}" cy="{y}" r="10" fill="{ACTIVE}"/>'
            f'<text x="{x + w}" y="{y + 4}" text-anchor="middle" font-size="11" fill="#fff">×{count}</text>'
        )
    return "".join(out)


def _text(x: float, y: float, text: str, size: int) -> str:
    return f'<text x="{x}" y="{y}" text-anchor="middle" font-size="{size}">{escape(text)}</text>'
