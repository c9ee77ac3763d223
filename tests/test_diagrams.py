"""The shipped diagrams lay out cleanly in bpmn-js: every element drawn, no shapes on top of each other,
every flow drawn with waypoints that start at its source and end at its target."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
NODES = (
    "startEvent",
    "endEvent",
    "userTask",
    "scriptTask",
    "exclusiveGateway",
    "parallelGateway",
    "intermediateCatchEvent",
    "boundaryEvent",
    "businessRuleTask",
    "serviceTask",
)
CHECKED = ["deliberation.bpmn", "service_item_delegation.bpmn", "committee_change.bpmn", "access_review.bpmn"]


def bounds(shape: etree._Element) -> tuple[float, float, float, float]:
    b = shape.find("dc:Bounds", NS)
    x, y = float(b.get("x")), float(b.get("y"))
    return x, y, x + float(b.get("width")), y + float(b.get("height"))


def near(point: tuple[float, float], box: tuple[float, float, float, float], slack: float = 2) -> bool:
    x, y = point
    x1, y1, x2, y2 = box
    inside = x1 - slack <= x <= x2 + slack and y1 - slack <= y <= y2 + slack
    on_edge = min(abs(x - x1), abs(x - x2), abs(y - y1), abs(y - y2)) <= slack or (x1 < x < x2 and y1 < y < y2)
    return inside and on_edge


@pytest.mark.parametrize("name", CHECKED)
def test_the_diagram_draws_every_element_without_overlaps_and_every_flow_from_source_to_target(name: str) -> None:
    root = etree.parse(str(ROOT / "bpmn" / name)).getroot()
    process = root.find("bpmn:process", NS)
    shapes = {s.get("bpmnElement"): bounds(s) for s in root.iter(f"{{{NS['bpmndi']}}}BPMNShape")}
    nodes = {e.get("id"): e for tag in NODES for e in process.iter(f"{{{NS['bpmn']}}}{tag}")}
    assert set(nodes) <= set(shapes), set(nodes) - set(shapes)
    hosts = {e.get("id"): e.get("attachedToRef") for e in nodes.values() if e.get("attachedToRef")}
    ids = sorted(nodes)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if hosts.get(a) == b or hosts.get(b) == a:
                continue  # a boundary event sits on its task's edge
            ax1, ay1, ax2, ay2 = shapes[a]
            bx1, by1, bx2, by2 = shapes[b]
            assert ax2 <= bx1 or bx2 <= ax1 or ay2 <= by1 or by2 <= ay1, f"{a} overlaps {b}"
    lanes = {lane.get("id"): shapes[lane.get("id")] for lane in process.iter(f"{{{NS['bpmn']}}}lane")}
    for lane in process.iter(f"{{{NS['bpmn']}}}lane"):
        x1, y1, x2, y2 = lanes[lane.get("id")]
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            if ref.text in hosts:
                continue
            nx1, ny1, nx2, ny2 = shapes[ref.text]
            assert x1 <= nx1 and nx2 <= x2 and y1 <= ny1 and ny2 <= y2, f"{ref.text} lies outside its lane"
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge")}
    for flow in process.iter(f"{{{NS['bpmn']}}}sequenceFlow"):
        edge = edges.get(flow.get("id"))
        assert edge is not None, f"{flow.get('id')} is not drawn"
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.iterfind("di:waypoint", NS)]
        assert len(points) >= 2, flow.get("id")
        assert near(points[0], shapes[flow.get("sourceRef")]), f"{flow.get('id')} does not start at its source"
        assert near(points[-1], shapes[flow.get("targetRef")]), f"{flow.get('id')} does not end at its target"
        for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
            assert ax == bx or ay == by, f"{flow.get('id')} has a diagonal segment"


@pytest.mark.parametrize("name", CHECKED)
def test_every_element_has_a_chinese_name_and_an_english_id(name: str) -> None:
    root = etree.parse(str(ROOT / "bpmn" / name)).getroot()
    process = root.find("bpmn:process", NS)
    for tag in NODES + ("lane",):
        for element in process.iter(f"{{{NS['bpmn']}}}{tag}"):
            assert element.get("id").isascii() and element.get("id").islower(), element.get("id")
            label = element.get("name") or ""
            assert any("\u4e00" <= ch <= "\u9fff" for ch in label), f"{element.get('id')} has no Chinese name"
