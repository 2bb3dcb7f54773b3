"""The package's layout (issue 19): layers import only what is below them, and nothing imports up.

The layers, bottom to top (CONTRIBUTING.md, "Layout"): ``_utils`` (helpers, nothing of the
package), ``_series`` and ``datasets`` (NumPy and pandas), ``_torch`` (torch, no scikit-learn),
``_estimators`` (scikit-learn estimators), ``_apps`` (benchmarks, CLI, demo); above them the
top-level public modules, thin re-exports that no layer imports. The imports are read by
``tests/import_graph.py`` from the source, including those inside functions.
"""

import ast
import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from import_graph import (
    MAX_CLASS_LINES,
    MAX_MODULE_LINES,
    MAX_PRIVATE_FROM_PUBLIC,
    ROOT,
    analyse,
)

REPORT = analyse()

# Folder (or module) -> the folders it may import from, its own included.
ALLOWED = {
    "_version": set(),
    "_utils": set(),
    "_series": {"_series", "datasets", "_utils", "_version"},
    "datasets": {"_series", "datasets", "_utils", "_version"},
    "_torch": {"_torch", "_series", "_utils", "_version"},
    "_estimators": {"_estimators", "_torch", "_series", "datasets", "_utils", "_version"},
    "_apps": {"_apps", "_estimators", "_torch", "_series", "datasets", "_utils", "_version"},
}
TORCH = ("torch", "transformers", "peft")
FACADE_EXEMPT = {"__init__", "__main__", "_version"}


def layer(module):
    """The folder of ``module`` (``_torch``), ``_version``, or ``top`` for the public faces."""
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] in ("__main__",)):
        return "top"
    if parts[1] in ALLOWED:
        return parts[1]
    if len(parts) == 2 and not parts[1].startswith("_"):
        return "top"
    return "unknown"


FACADES = sorted(
    f"calf_sklearn.{path.stem}"
    for path in ROOT.glob("*.py")
    if path.stem not in FACADE_EXEMPT and not path.stem.startswith("_")
)


def _external(record, roots):
    return not record.internal and record.target.split(".")[0] in roots


def _report(problems, rule):
    return f"{len(problems)} import(s) break the rule: {rule}\n" + "\n".join(f"  {p}" for p in problems)


def test_the_layer_of_a_module_is_its_folder():
    assert layer("calf_sklearn._torch.network") == "_torch"
    assert layer("calf_sklearn.datasets.files") == layer("calf_sklearn.datasets") == "datasets"
    assert layer("calf_sklearn._version") == "_version"
    assert layer("calf_sklearn") == layer("calf_sklearn.__main__") == layer("calf_sklearn.network") == "top"
    assert layer("calf_sklearn._helpers") == "unknown"


def test_every_module_belongs_to_a_layer():
    unknown = [module for module in REPORT.modules if layer(module) == "unknown"]
    assert not unknown, (
        f"modules outside the layer folders {sorted(ALLOWED)} and not a top-level public module: {unknown}"
    )


def test_no_import_cycle():
    cycles, lines = REPORT.cycles, []
    for cycle in cycles:
        lines.append(" <-> ".join(cycle))
        lines.extend(f"    {edge}" for edge in REPORT.cycle_edges(cycle))
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(lines)


def test_each_layer_imports_only_the_layers_below_it():
    problems = []
    for record in REPORT.imports:
        source = layer(record.importer)
        if record.internal and source in ALLOWED and layer(record.target) not in ALLOWED[source]:
            problems.append(f"{record} [{source} may import only {sorted(ALLOWED[source]) or 'nothing'}]")
    assert not problems, _report(problems, "each layer imports only itself and the layers below it")


def test_no_layer_imports_a_top_level_module():
    problems = [
        str(record)
        for record in REPORT.imports
        if record.internal and layer(record.importer) != "top" and layer(record.target) == "top"
    ]
    assert not problems, _report(
        problems,
        "the top-level modules and calf_sklearn/__init__ are the top; import the layer module instead",
    )


def test_utils_imports_nothing_of_the_package():
    problems = [
        str(record)
        for record in REPORT.imports
        if record.internal and layer(record.importer) == "_utils" and record.target != record.importer
    ]
    assert not problems, _report(problems, "_utils imports nothing of the package")


def test_the_torch_layer_imports_no_scikit_learn():
    problems = [
        str(record)
        for record in REPORT.imports
        if layer(record.importer) == "_torch" and _external(record, {"sklearn"})
    ]
    assert not problems, _report(problems, "_torch imports no sklearn, not even inside a function")


def test_the_series_layer_imports_no_torch():
    problems = [
        str(record)
        for record in REPORT.imports
        if layer(record.importer) in ("_series", "datasets") and _external(record, set(TORCH))
    ]
    assert not problems, _report(problems, f"_series and datasets import none of {TORCH}")


def test_the_estimators_import_torch_only_inside_functions():
    problems = [
        str(record)
        for record in REPORT.imports
        if layer(record.importer) == "_estimators"
        and record.scope == "module"
        and _external(record, set(TORCH))
    ]
    assert not problems, _report(problems, f"_estimators import {TORCH} lazily, inside functions")


def _modules_after(code):
    result = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT.parent,
    )
    return set(result.stdout.split())


def test_importing_the_package_imports_no_torch():
    loaded = _modules_after("import calf_sklearn")
    assert "calf_sklearn" in loaded
    assert not loaded & set(TORCH), f"import calf_sklearn imported {sorted(loaded & set(TORCH))}"


def test_importing_the_series_layer_imports_no_torch():
    names = sorted(m for m in REPORT.modules if layer(m) in ("_series", "datasets"))
    loaded = _modules_after("\n".join(f"import {name}" for name in names))
    assert set(names) <= loaded
    assert not loaded & set(TORCH), f"importing {names} imported {sorted(loaded & set(TORCH))}"


def _is_all(target):
    return isinstance(target, ast.Name) and target.id == "__all__"


def _is_main_block(node):
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
        and isinstance(node.test.comparators[0], ast.Constant)
        and node.test.comparators[0].value == "__main__"
    )


def _own_definitions(module):
    """The statements of a facade that are not its docstring, an import or ``__all__``."""
    path = REPORT.modules[module]
    body = ast.parse(path.read_text(encoding="utf-8")).body
    extra = []
    for position, node in enumerate(body):
        if position == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or node.module == "__future__"):
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and _is_all(node.targets[0]):
            continue
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)) and _is_all(node.target):
            continue
        if module == "calf_sklearn.demo" and _is_main_block(node):
            continue
        extra.append(f"{path.name}:{node.lineno}: {ast.unparse(node).splitlines()[0]}")
    return extra


def test_the_facades_are_found():
    assert {"calf_sklearn.forecaster", "calf_sklearn.network", "calf_sklearn.demo"} <= set(FACADES)
    assert "calf_sklearn._version" not in FACADES


@pytest.mark.parametrize("module", FACADES)
def test_a_top_level_module_only_re_exports(module):
    extra = _own_definitions(module)
    assert not extra, (
        f"{module} is a public face: only its docstring, relative imports and __all__ belong in it; "
        "move these into the layer module it re-exports:\n" + "\n".join(f"  {line}" for line in extra)
    )


@pytest.mark.parametrize("module", [m for m in FACADES if m != "calf_sklearn.demo"])
def test_everything_a_top_level_module_exports_resolves(module):
    imported = importlib.import_module(module)
    names = getattr(imported, "__all__", None)
    assert names, f"{module} has no __all__"
    missing = [name for name in names if not hasattr(imported, name)]
    assert not missing, f"{module}.__all__ names what it does not have: {missing}"


def test_no_class_is_too_long():
    over = {name: lines for name, lines in REPORT.class_lines.items() if lines > MAX_CLASS_LINES}
    assert not over, f"classes over {MAX_CLASS_LINES} lines: {over}"


def test_no_module_is_too_long():
    over = {name: lines for name, lines in REPORT.module_lines.items() if lines > MAX_MODULE_LINES}
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"


def test_few_private_names_cross_from_a_public_module():
    crossing = REPORT.private_from_public
    assert len(crossing) <= MAX_PRIVATE_FROM_PUBLIC, (
        f"{len(crossing)} private names imported from another public module (at most "
        f"{MAX_PRIVATE_FROM_PUBLIC}):\n" + "\n".join(f"  {i} <- {s}.{n}" for i, s, n in crossing)
    )


def _write(folder, files):
    for name, source in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")


def test_the_reader_sees_every_kind_of_import(tmp_path):
    _write(
        tmp_path / "pkg",
        {
            "__init__.py": "from .a import f\n",
            "a.py": """
                from typing import TYPE_CHECKING
                from . import sub
                from .sub.c import _hidden, shown
                if TYPE_CHECKING:
                    from .b import B
                def f():
                    import pkg.b
                    import pkg
                    import sklearn.utils
            """,
            "b.py": "from .a import f\n",
            "sub/__init__.py": "",
            "sub/c.py": "from . import c\n_hidden = shown = 1\nclass K:\n    x = 1\n\n    y = 2\n",
        },
    )
    report = analyse(tmp_path / "pkg")
    assert set(report.modules) == {"pkg", "pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c"}
    assert report.graph["pkg.a"] == {"pkg.sub", "pkg.sub.c", "pkg.b", "pkg"}
    assert report.graph["pkg"] == {"pkg.a"}
    scopes = {(r.target, r.scope) for r in report.imports if r.importer == "pkg.a"}
    assert ("pkg.b", "type_checking") in scopes and ("sklearn.utils", "function") in scopes
    assert report.cycles == [["pkg", "pkg.a", "pkg.b"], ["pkg.sub.c"]]
    assert report.private_imports == [("pkg.a", "pkg.sub.c", "_hidden")]
    assert report.private_from_public == report.private_imports
    assert report.largest_class == (4, "pkg.sub.c.K")
    assert report.largest_module[1] == "pkg.a"


def test_the_script_prints_the_figures():
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("import_graph.py"))],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    for label in ("import cycles:", "largest class:", "largest module:", "another public module:"):
        assert label in result.stdout
