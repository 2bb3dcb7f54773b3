"""Every public name carries a numpydoc docstring with an example (run by pytest --doctest-modules)."""

import importlib
import inspect
import pkgutil
import re

import pytest

import calf_sklearn

PUBLIC_MODULES = ["calf_sklearn"] + sorted(
    f"calf_sklearn.{module.name}"
    for module in pkgutil.iter_modules(calf_sklearn.__path__)
    if not module.name.startswith("_")
)


def _public_objects():
    seen = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                seen.setdefault(id(obj), (f"{module_name}.{name}", obj))
    return sorted(seen.values(), key=lambda item: item[0])


PUBLIC = _public_objects()


def _section(doc, title):
    match = re.search(
        rf"^{title}\n-{{{len(title)}}}\n(.*?)(?=^\w[^\n]*\n-+\n|\Z)", doc, re.MULTILINE | re.DOTALL
    )
    return match.group(1) if match else None


def test_the_public_api_is_found():
    names = {name for name, _ in PUBLIC}
    assert "calf_sklearn.CALFForecaster" in names and "calf_sklearn.save_forecaster" in names
    assert len(PUBLIC) >= 40


@pytest.mark.parametrize("name, obj", PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_name_has_a_runnable_example(name, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    examples = _section(doc, "Examples")
    assert examples is not None, f"{name} has no Examples section"
    assert ">>> " in examples, f"{name}'s Examples section has no doctest"


@pytest.mark.parametrize(
    "name, obj",
    [item for item in PUBLIC if inspect.isfunction(item[1])],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_public_function_documents_its_parameters_and_result(name, obj):
    doc = inspect.getdoc(obj)
    parameters = [p for p in inspect.signature(obj).parameters if p not in ("self", "args", "kwargs")]
    if parameters:
        section = _section(doc, "Parameters") or ""
        for parameter in parameters:
            assert re.search(rf"(^|, ){parameter}\b", section, re.MULTILINE), (
                f"{name} does not document {parameter}"
            )
    assert _section(doc, "Returns") is not None or _section(doc, "Raises") is not None, name
