"""The package's own imports, read from its source with :mod:`ast` (nothing is imported).

Every ``import`` and ``from ... import`` statement counts, wherever it stands: at module level,
inside functions and methods, and inside ``if TYPE_CHECKING:`` blocks. Relative imports are
resolved against the importing module. An edge goes to the most specific module a statement
names: ``from . import download`` (a submodule) imports ``...datasets.download``; ``from .files
import load_file`` (a name) imports ``...datasets.files``; importing a package imports its
``__init__``, the node named like the package (``calf_sklearn.datasets``). The parent packages that
Python also runs on the way are not edges, or every package would sit in a cycle with its modules.

From the graph it computes the import cycles (strongly connected components of more than one
module, and modules that import themselves), the largest class and the largest module in lines,
and the private names (one leading underscore, not dunders) a module imports from another module
of the package, listed once for all source modules and once for those whose source module is
public (no part of its dotted name starts with ``_``).

``python tests/import_graph.py`` prints these figures against the targets of the layout redesign
(issue 19); ``--strict`` makes it exit with status 1 when a target is missed.
``tests/test_layers.py`` asserts them, and the layer rules, from the same reader.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

PACKAGE = "calf_sklearn"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# The targets.
MAX_CLASS_LINES = 450
MAX_MODULE_LINES = 700
MAX_PRIVATE_FROM_PUBLIC = 3


@dataclasses.dataclass(frozen=True)
class Import:
    """One imported module as a statement names it.

    ``target`` is a module of the package (``internal``) or the dotted name of an outside module
    (``sklearn.utils``). ``names`` are what a ``from`` statement takes from ``target`` that are
    not submodules. ``scope`` is ``"module"`` (runs when the module is imported), ``"function"``
    (inside a function or method body) or ``"type_checking"`` (inside ``if TYPE_CHECKING:``).
    """

    importer: str
    target: str
    internal: bool
    lineno: int
    scope: str
    names: tuple[str, ...] = ()

    def __str__(self):
        where = (
            ""
            if self.scope == "module"
            else f" ({'inside a function' if self.scope == 'function' else 'under TYPE_CHECKING'})"
        )
        names = f" ({', '.join(self.names)})" if self.names else ""
        return f"{self.importer}:{self.lineno} imports {self.target}{names}{where}"


def is_private(name):
    """Whether ``name`` is private: one leading underscore, not a dunder."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_public_module(module):
    """Whether no part of the dotted ``module`` name starts with an underscore."""
    return not any(part.startswith("_") for part in module.split("."))


def discover(root=ROOT):
    """Dotted module name -> source path, for every ``.py`` file of the package."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree):
    """Every import statement in ``tree`` with its scope, in source order."""
    found = []

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, scope))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, "function")
            elif isinstance(child, ast.If) and _is_type_checking(child.test) and scope == "module":
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), "type_checking")
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), scope)
            else:
                visit(child, scope)

    visit(tree, "module")
    return found


def _base(module, is_package, node):
    """The absolute module a ``from`` statement names (its ``from`` part)."""
    if node.level == 0:
        return node.module
    package = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _internal(name, modules):
    """The most specific module of the package that dotted ``name`` lies in, or None."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def read_imports(module, path, modules):
    """The :class:`Import` records of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    package = module.split(".")[0]
    records = []
    for node, scope in _statements(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _internal(alias.name, modules) if alias.name.split(".")[0] == package else None
                records.append(Import(module, target or alias.name, target is not None, node.lineno, scope))
            continue
        base = _base(module, is_package, node)
        inside = base.split(".")[0] == package
        names = []
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if inside and submodule in modules:
                records.append(Import(module, submodule, True, node.lineno, scope))
            else:
                names.append(alias.name)
        if names:
            target = _internal(base, modules) if inside else None
            records.append(
                Import(module, target or base, target is not None, node.lineno, scope, tuple(names))
            )
    return records


def _cycles(graph):
    """Strongly connected components of more than one node, and self loops (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = 0

    def connect(node):
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for node in sorted(graph):
            if node not in index:
                connect(node)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found)


@dataclasses.dataclass
class Report:
    """What :func:`analyse` finds; see the module docstring."""

    modules: dict  # module -> path
    imports: list  # every Import
    graph: dict  # module -> set of modules of the package it imports
    cycles: list  # lists of modules
    largest_class: tuple  # (lines, "module.Class")
    largest_module: tuple  # (lines, module)
    class_lines: dict  # "module.Class" -> lines
    module_lines: dict  # module -> lines
    private_imports: list  # (importer, source module, name)

    @property
    def private_from_public(self):
        """The private names whose source module is public."""
        return [entry for entry in self.private_imports if is_public_module(entry[1])]

    def cycle_edges(self, cycle):
        """The imports that make up ``cycle``, readable."""
        members = set(cycle)
        return [str(i) for i in self.imports if i.internal and i.importer in members and i.target in members]


def analyse(root=ROOT):
    """Read the whole package under ``root`` and compute the :class:`Report`."""
    modules = discover(root)
    imports, class_lines, module_lines = [], {}, {}
    for module, path in modules.items():
        source = path.read_text(encoding="utf-8")
        module_lines[module] = len(source.splitlines())
        imports.extend(read_imports(module, path, modules))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                class_lines[f"{module}.{node.name}"] = node.end_lineno - start + 1
    graph = {module: set() for module in modules}
    private = set()
    for record in imports:
        if not record.internal:
            continue
        graph[record.importer].add(record.target)
        if record.target != record.importer:
            private.update((record.importer, record.target, n) for n in record.names if is_private(n))
    largest_class = max(((lines, name) for name, lines in class_lines.items()), default=(0, ""))
    largest_module = max((lines, name) for name, lines in module_lines.items())
    return Report(
        modules=modules,
        imports=imports,
        graph=graph,
        cycles=_cycles(graph),
        largest_class=largest_class,
        largest_module=largest_module,
        class_lines=class_lines,
        module_lines=module_lines,
        private_imports=sorted(private),
    )


def main(argv=None):
    """Print the figures; with ``--strict``, return 1 when a target is missed."""
    argv = sys.argv[1:] if argv is None else argv
    report = analyse()
    internal = sum(len(targets) for targets in report.graph.values())
    print(f"{len(report.modules)} modules, {internal} imports between them")
    missed = []

    def figure(label, value, target, detail=""):
        ok = value <= target
        if not ok:
            missed.append(label)
        print(f"{label}: {value}{detail} (target <= {target}) {'ok' if ok else 'MISSED'}")

    figure("import cycles", len(report.cycles), 0)
    for cycle in report.cycles:
        print(f"  cycle: {' -> '.join(cycle)}")
        for edge in report.cycle_edges(cycle):
            print(f"    {edge}")
    lines, name = report.largest_class
    figure("largest class", lines, MAX_CLASS_LINES, f" lines, {name}")
    for name, lines in sorted(report.class_lines.items(), key=lambda item: -item[1]):
        if lines > MAX_CLASS_LINES:
            print(f"  {name}: {lines}")
    lines, name = report.largest_module
    figure("largest module", lines, MAX_MODULE_LINES, f" lines, {name}")
    for name, lines in sorted(report.module_lines.items(), key=lambda item: -item[1]):
        if lines > MAX_MODULE_LINES:
            print(f"  {name}: {lines}")
    print(f"private names imported from another module: {len(report.private_imports)}")
    for importer, source, name in report.private_imports:
        print(f"  {importer} <- {source}.{name}")
    figure(
        "private names imported from another public module",
        len(report.private_from_public),
        MAX_PRIVATE_FROM_PUBLIC,
    )
    for importer, source, name in report.private_from_public:
        print(f"  {importer} <- {source}.{name}")
    return 1 if missed and "--strict" in argv else 0


if __name__ == "__main__":
    sys.exit(main())
