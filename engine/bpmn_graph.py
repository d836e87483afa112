"""A BPMN document as a graph of flow nodes and sequence flows (as bpmn-js draws it), and the paths a
run takes through it: from one element to others through elements that never wait, and what a run
certainly did from an element by the diagram alone. Used by the instance view (engine.instance_view)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from models import ProcessDefinition

from .definitions import BPMN_NS

_CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
# Elements where a run stops until someone (or a timer, or a message) moves it on.
_WAITS = {"userTask", "manualTask", "receiveTask", "intermediateCatchEvent", "boundaryEvent"}


def _is_flow_node(tag: str) -> bool:
    return (tag.endswith("Task") or tag == "task" or tag.endswith("Gateway") or tag.endswith("Event")
            or tag in _CONTAINERS or tag == "callActivity")


@dataclass
class DiagramGraph:
    """The flow nodes and sequence flows of a BPMN document, as the viewer draws them."""

    kinds: dict[str, str] = field(default_factory=dict)  # element id → BPMN tag (userTask, exclusiveGateway …)
    names: dict[str, str] = field(default_factory=dict)
    container: dict[str, str | None] = field(default_factory=dict)  # the sub-process an element sits in
    flow_ids: set[str] = field(default_factory=set)
    flows_out: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # node → [(flow id, target)]
    flows_in: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # node → [(flow id, source)]
    starts: dict[str, list[str]] = field(default_factory=dict)  # process or sub-process id → its start events
    ends: dict[str, list[str]] = field(default_factory=dict)  # process or sub-process id → its end events
    attached_to: dict[str, str] = field(default_factory=dict)  # boundary event → its task

    def next(self, node: str) -> list[tuple[str | None, str]]:
        """Where a run goes after ``node``: into a sub-process's start events; out of a sub-process's
        end event along the sub-process's own flows; otherwise along the node's outgoing flows."""
        kind = self.kinds.get(node)
        if kind in _CONTAINERS:
            return [(None, start) for start in self.starts.get(node, [])]
        out: list[tuple[str | None, str]] = list(self.flows_out.get(node, []))
        parent = self.container.get(node)
        if kind == "endEvent" and parent is not None:
            out += self.flows_out.get(parent, [])
        return out

    def previous(self, node: str) -> list[tuple[str | None, str]]:
        """The reverse of ``next``: a flow out of a sub-process comes from its end events."""
        back: list[tuple[str | None, str]] = []
        for flow_id, source in self.flows_in.get(node, []):
            if self.kinds.get(source) in _CONTAINERS:
                back += [(flow_id, end) for end in self.ends.get(source, [])]
            else:
                back.append((flow_id, source))
        parent = self.container.get(node)
        if self.kinds.get(node) == "startEvent" and parent is not None:
            back.append((None, parent))
        return back

    def passes(self, node: str) -> bool:
        """Does a run pass through this element without waiting?"""
        return node in self.kinds and self.kinds[node] not in _WAITS

    def ancestors(self, node: str) -> list[str]:
        found = []
        parent = self.container.get(node)
        while parent is not None:
            found.append(parent)
            parent = self.container.get(parent)
        return found


def parse_graph(xml: str | bytes) -> DiagramGraph:
    """The diagram's graph, parsed without entities, DTDs or network (as deploys are)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml, parser=parser)
    graph = DiagramGraph()
    flows: list[tuple[str, str, str]] = []

    def walk(scope: Any, scope_id: str, container: str | None) -> None:
        for child in scope:
            if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{BPMN_NS}}}"):
                continue
            tag, element_id = etree.QName(child).localname, child.get("id")
            if not element_id:
                continue
            if tag == "sequenceFlow":
                flows.append((element_id, child.get("sourceRef", ""), child.get("targetRef", "")))
            elif _is_flow_node(tag):
                graph.kinds[element_id] = tag
                graph.names[element_id] = (child.get("name") or "").strip()
                graph.container[element_id] = container
                if tag == "startEvent":
                    graph.starts.setdefault(scope_id, []).append(element_id)
                elif tag == "endEvent":
                    graph.ends.setdefault(scope_id, []).append(element_id)
                elif tag == "boundaryEvent" and child.get("attachedToRef"):
                    graph.attached_to[element_id] = child.get("attachedToRef")
                if tag in _CONTAINERS:
                    walk(child, element_id, element_id)

    for process in root.iter(f"{{{BPMN_NS}}}process"):
        walk(process, process.get("id", ""), None)
    for flow_id, source, target in flows:
        graph.flow_ids.add(flow_id)
        graph.flows_out.setdefault(source, []).append((flow_id, target))
        graph.flows_in.setdefault(target, []).append((flow_id, source))
    return graph


_GRAPHS: dict[str, DiagramGraph] = {}


def graph_of(definition: ProcessDefinition) -> DiagramGraph:
    """Parsed once per content (sha256); a version's XML never changes."""
    graph = _GRAPHS.get(definition.sha256)
    if graph is None:
        if len(_GRAPHS) >= 64:
            _GRAPHS.clear()
        graph = _GRAPHS[definition.sha256] = parse_graph(definition.bpmn_xml)
    return graph


# -- paths ------------------------------------------------------------------------------------------------


def _walk(start: Iterable[str], step: Any, passes: Any) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if passes(node):
            stack.extend(target for _flow, target in step(node))
    return seen


def paths_between(graph: DiagramGraph, sources: set[str], targets: set[str]
                  ) -> tuple[set[str], set[str], set[str]]:
    """The elements a run passed through from ``sources`` to ``targets`` without waiting, the flows
    it took and the targets it reached: every element on such a path is reachable forward from a
    source and backward from a target through elements that do not wait."""
    if not sources or not targets:
        return set(), set(), set()
    forward = _walk([t for s in sources for _f, t in graph.next(s)], graph.next, graph.passes)
    backward = _walk([s for t in targets for _f, s in graph.previous(t)], graph.previous, graph.passes)
    nodes = {n for n in forward & backward if graph.passes(n)}
    reached = targets & forward
    flows = {flow for node in sources | nodes for flow, target in graph.next(node)
             if flow and (target in nodes or target in reached)}
    return nodes, flows, reached


def certain_run(graph: DiagramGraph, sources: set[str]) -> tuple[set[str], set[str]]:
    """What a run from ``sources`` certainly did, decided by the diagram alone: it follows every flow
    out of an element with one way on (or out of a parallel split), and stops at a choice (an
    element with several ways on), at a join (which may still wait for another branch), at anything
    that waits, and at an end event inside a sub-process (that leads on only once every instance
    has finished). Returns the elements it passed through and the flows it took."""
    def is_join(node: str) -> bool:
        return graph.kinds[node].endswith("Gateway") and len(graph.flows_in.get(node, [])) > 1

    passed: set[str] = set()
    flows: set[str] = set()
    stack = list(sources)
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        ways = graph.next(node)
        if len(ways) > 1 and graph.kinds.get(node) != "parallelGateway":
            continue  # a choice: which way it went is the recorded steps' to tell
        for flow, target in ways:
            if flow:
                flows.add(flow)
            if not graph.passes(target) or is_join(target):
                continue
            passed.add(target)
            if not (graph.kinds[target] == "endEvent" and graph.container.get(target) is not None):
                stack.append(target)
    return passed, flows
