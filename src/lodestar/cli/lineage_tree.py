"""The lineage graph an API answer holds, drawn as a Rich tree from its root: each node once,
with a mark where the graph joins a node already drawn (a diamond or a cycle)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from rich.tree import Tree


def _label(node: dict[str, Any], pairs: list[list[str]] | None) -> Text:
    text = Text()
    text.append(node["fqn"], style="bold")
    text.append(f"  {node['kind']}", style="dim")
    if node.get("deleted"):
        text.append("  (deleted)", style="red")
    if pairs:
        shown = ", ".join(f"{a} -> {b}" for a, b in pairs)
        text.append(f"  [{shown}]", style="cyan")
    return text


def _grow(
    parent: Tree,
    node_id: str,
    nodes: dict[str, dict[str, Any]],
    nexts: dict[str, list[tuple[str, list[list[str]] | None]]],
    drawn: set[str],
) -> None:
    stack: list[tuple[Tree, str]] = [(parent, node_id)]
    while stack:
        branch, current = stack.pop()
        children = []
        for other, pairs in nexts.get(current, []):
            node = nodes.get(other)
            if node is None:
                continue
            if other in drawn:
                label = _label(node, pairs)
                label.append("  (shown above)", style="dim italic")
                branch.add(label)
                continue
            drawn.add(other)
            children.append((branch.add(_label(node, pairs)), other))
        stack.extend(reversed(children))


def tree(graph: dict[str, Any], *, columns: bool = False) -> Tree:
    """A tree of the graph: downstream from the root, upstream from it, or both as two
    branches, following the direction the walk took."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    root_id = graph["root"]["id"]
    down: dict[str, list[tuple[str, list[list[str]] | None]]] = {}
    up: dict[str, list[tuple[str, list[list[str]] | None]]] = {}
    for e in graph["edges"]:
        pairs = e.get("columns") if columns else None
        down.setdefault(e["from"], []).append((e["to"], pairs))
        up.setdefault(e["to"], []).append((e["from"], pairs))
    order = {n["id"]: (n["distance"], n["fqn"]) for n in graph["nodes"]}
    for links in (*down.values(), *up.values()):
        links.sort(key=lambda link: order.get(link[0], (0, "")))
    top = Tree(_label(nodes[root_id], None) if root_id in nodes else Text(graph["root"]["fqn"]))
    direction = graph.get("direction", "downstream")
    if direction == "both":
        for name, nexts in (("upstream", up), ("downstream", down)):
            _grow(top.add(Text(name, style="magenta")), root_id, nodes, nexts, {root_id})
    else:
        _grow(top, root_id, nodes, down if direction == "downstream" else up, {root_id})
    return top
