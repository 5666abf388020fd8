"""The layers of the server, enforced on its import graph (issue 15, point 8).

The graph is read from the source (every ``import``, at module level or inside a function), so a
late import cannot hide a circle. Contracts:
- no import circle anywhere in ``sync_server/`` or ``crypto/``;
- ``crypto/`` (the formats an outside client implements) imports nothing of the server;
- ``sync_server.protocol`` (pure parsing of the sync protocol) imports only the error catalogue and
  the id types;
- only the CLI imports the application (``app``), only the application imports the route table, and
  only the route table imports the endpoints: services, storage, audit and the rest never reach up.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("sync_server", "crypto"):
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _known(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (imports for annotations only, never run)."""
    found: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return found


def _imports(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # ``from . import devices`` imports the module ``devices``; ``from .x import name`` imports x
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            target = _known(name)
            if target is not None and target != module:
                targets.add(target)
    return targets


GRAPH = {module: _imports(module) for module in MODULES}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_circle_finder_finds_a_circle_through_a_late_import():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_imports_for_annotations_only_are_not_edges():
    assert "sync_server.audit.log" not in GRAPH["sync_server.errors"]  # under TYPE_CHECKING


def test_the_graph_sees_imports_inside_functions():
    # cli imports the app inside its serve command: a late import is still an edge
    assert "sync_server.app" in GRAPH["sync_server.cli"]
    assert {"sync_server.endpoints.people", "sync_server.endpoints.openapi"} <= GRAPH["sync_server.routes"]


def test_no_import_circle_in_the_server_or_crypto():
    assert _circles(GRAPH) == []


def test_crypto_imports_nothing_of_the_server():
    assert {(m, t) for m, ts in GRAPH.items() if m.startswith("crypto") for t in ts if t.startswith("sync_server")} \
        == set()


def test_the_protocol_layer_imports_only_errors_and_types():
    outside = {(m, t) for m, ts in GRAPH.items() if m.startswith("sync_server.protocol")
               for t in ts if t.startswith("sync_server") and not t.startswith("sync_server.protocol")}
    assert {t for _, t in outside} <= {"sync_server.errors", "sync_server.types"}, outside


@pytest.mark.parametrize("target, allowed", [
    ("sync_server.app", {"sync_server.cli"}),
    ("sync_server.routes", {"sync_server.app"}),
])
def test_who_may_import_the_top_layers(target, allowed):
    assert {m for m, ts in GRAPH.items() if target in ts} <= allowed


def test_only_the_route_table_imports_the_endpoints():
    importers = {m for m, ts in GRAPH.items() for t in ts
                 if t.startswith("sync_server.endpoints") and not m.startswith("sync_server.endpoints")}
    assert importers == {"sync_server.routes"}
