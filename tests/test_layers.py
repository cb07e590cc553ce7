"""The layer order of the whole package, encoded: imports only point down.

Every module of ``oncall_console`` belongs to one layer (the first prefix below that
matches it). A module may import from its own layer or from layers below it, never from
one above, and no two modules may import each other, directly or round a circle. Imports
under ``if TYPE_CHECKING:`` and imports inside functions count: a type-only arrow still
says which part depends on which, and a lazy import is still a dependency.

ARCHITECTURE.md ("Layers") draws the same picture. A new module that fits no layer
fails here until it is placed.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "oncall_console"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # Plain helpers: no IO beyond reading a file, no other part of the package.
    (
        "util",
        (
            "=oncall_console",  # the package itself (its version), not what is under it
            "oncall_console.text",
            "oncall_console.fmt",
            "oncall_console.durations",
            "oncall_console.urls",
            "oncall_console.paths",
            "oncall_console.secrets",
            "oncall_console.errors",
            "oncall_console.tasks",
        ),
    ),
    ("model", ("oncall_console.model",)),
    ("config file", ("oncall_console.configfile",)),
    # The plugin contract and the modules every plugin shares, then the plugins.
    (
        "backend contract",
        (
            "oncall_console.backends.base",
            "oncall_console.backends.shared",
            "oncall_console.backends.registry",
            "oncall_console.backends",  # the package: the entry-point registry
        ),
    ),
    ("backends", ("oncall_console.backends.",)),
    ("config", ("oncall_console.config", "oncall_console.configschema", "oncall_console.starter")),
    ("store and bus", ("oncall_console.store", "oncall_console.bus")),
    ("runbooks and incidents", ("oncall_console.runbooks", "oncall_console.incidents")),
    ("engine", ("oncall_console.engine",)),
    (
        "ui widgets",
        (
            "oncall_console.ui.widgets",
            "oncall_console.ui.render",
            "oncall_console.ui.themes",
            "oncall_console.ui.partial",
            "oncall_console.ui.messages",
        ),
    ),
    ("ui screens", ("oncall_console.ui.screens", "oncall_console.ui.flow")),
    ("ui app", ("oncall_console.ui",)),
    ("cli", ("oncall_console.cli", "oncall_console.__main__")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    """The index of the module's layer: the most specific matching prefix wins."""
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if prefix.startswith("="):  # this module only
                hit = module == prefix[1:]
            elif prefix.endswith("."):  # what is under it, not itself
                hit = module.startswith(prefix)
            else:
                hit = module == prefix or module.startswith(prefix + ".")
            if hit and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def imported(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports, wherever the import stands."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base.pop()
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if not source.startswith("oncall_console"):
                continue
            for alias in node.names:
                target = known(f"{source}.{alias.name}")
                if target is None or target not in (f"{source}.{alias.name}",):
                    target = known(source)
                if target and target != module:
                    found.add(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("oncall_console"):
                    target = known(alias.name)
                    if target and target != module:
                        found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {m: imported(m, p, modules) for m, p in modules.items()}


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in all_modules() if layer_of(m) < 0)
    assert unplaced == [], "place these modules in LAYERS (tests/test_layers.py)"


def test_imports_only_point_down():
    upward = sorted(
        f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
        for m, targets in import_graph().items()
        for t in targets
        # a package's __init__ may re-export its own modules
        if layer_of(t) > layer_of(m) and not t.startswith(m + ".")
    )
    assert upward == []


def test_plugins_do_not_import_each_other():
    def plugin(module: str) -> str | None:
        parts = module.split(".")
        if len(parts) > 2 and parts[1] == "backends" and layer_of(module) == 4:
            return parts[2]
        return None

    crossing = sorted(
        f"{m} imports {t}"
        for m, targets in import_graph().items()
        for t in targets
        if plugin(m) and plugin(t) and plugin(m) != plugin(t)
    )
    assert crossing == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the import circles (groups of more than one)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    circles.append(sorted(group))
    return circles


def test_no_import_circles():
    assert strongly_connected(import_graph()) == []


def test_the_checker_sees_a_circle_and_an_upward_import():
    """The rules above can fail: a made-up graph with both faults is caught."""
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("oncall_console.cli") > layer_of("oncall_console.engine.core")
    assert layer_of("oncall_console.backends.http.probe") > layer_of("oncall_console.backends.base")
    assert layer_of("oncall_console.ui.screens.dashboard") > layer_of(
        "oncall_console.ui.widgets.health"
    )


MAX_LINES = 600


def test_no_module_is_over_600_lines_without_a_reason_at_its_top():
    """A long module says why at its top ("... over 600 lines because ...")."""
    long = []
    for module, path in sorted(all_modules().items()):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if "600 lines because" not in doc:
            long.append(f"{module}: {text.count(chr(10))} lines")
    assert long == []
