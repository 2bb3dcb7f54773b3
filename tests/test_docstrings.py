"""Every public name carries a numpydoc docstring with an example (run by pytest --doctest-modules)."""

import dataclasses
import functools
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


def _own_members(cls):
    """Methods and properties written in ``cls``'s own body, public ones only.

    Left out: what ``dataclass`` and ``NamedTuple`` generate (field accessors),
    what a parent defines (not in ``vars(cls)``), and other class attributes
    (constants, scikit-learn's metadata-routing ``set_*_request`` descriptors).
    """
    generated = set(getattr(cls, "_fields", ()) if issubclass(cls, tuple) else ())
    if dataclasses.is_dataclass(cls):
        generated |= {f.name for f in dataclasses.fields(cls)}
    for name, member in vars(cls).items():
        if name.startswith("_") or name in generated:
            continue
        if isinstance(member, property):
            yield name, member.fget, "property"
        elif isinstance(member, functools.cached_property):
            yield name, member.func, "property"
        elif isinstance(member, (classmethod, staticmethod)):
            yield name, member.__func__, "method"
        elif inspect.isfunction(member):
            yield name, member, "method"


def _public_members():
    members = []
    for class_name, cls in PUBLIC:
        if inspect.isclass(cls):
            members.extend((f"{class_name}.{name}", obj, kind) for name, obj, kind in _own_members(cls))
    return sorted(members, key=lambda item: item[0])


MEMBERS = _public_members()
METHODS = [(name, obj) for name, obj, kind in MEMBERS if kind == "method"]


def _section(doc, title):
    match = re.search(
        rf"^{title}\n-{{{len(title)}}}\n(.*?)(?=^\w[^\n]*\n-+\n|\Z)", doc, re.MULTILINE | re.DOTALL
    )
    return match.group(1) if match else None


def test_the_public_api_is_found():
    names = {name for name, _ in PUBLIC}
    assert "calf_sklearn.CALFForecaster" in names and "calf_sklearn.save_forecaster" in names
    assert len(PUBLIC) >= 40


def test_the_public_methods_are_found():
    names = {name for name, _, _ in MEMBERS}
    assert {
        "calf_sklearn.CALFForecaster.fit",
        "calf_sklearn.network.CALFNetwork.forward",
        "calf_sklearn.network.CALFNetwork.from_export",
        "calf_sklearn.network.CALFNetwork.pred_len",
        "calf_sklearn.windows.WindowedSeries.batch",
    } <= names
    # Inherited, generated and non-callable class attributes are not members.
    assert "calf_sklearn.CALFForecaster.predict" not in names
    assert "calf_sklearn.CALFForecaster.set_fit_request" not in names
    assert "calf_sklearn.network.CALFOutputs.forecast" not in names
    assert "calf_sklearn.baselines.NaiveForecaster.seq_len" not in names


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


@pytest.mark.parametrize("name, obj, kind", MEMBERS, ids=[name for name, _, _ in MEMBERS])
def test_public_method_has_a_runnable_example(name, obj, kind):
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    examples = _section(doc, "Examples")
    assert examples is not None, f"{name} has no Examples section"
    assert ">>> " in examples, f"{name}'s Examples section has no doctest"


@pytest.mark.parametrize("name, obj", METHODS, ids=[name for name, _ in METHODS])
def test_public_method_documents_its_parameters_and_result(name, obj):
    doc = inspect.getdoc(obj) or ""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    parameters = [
        p.name
        for p in inspect.signature(obj).parameters.values()
        if p.name not in ("self", "cls") and p.kind not in variadic
    ]
    if parameters:
        section = _section(doc, "Parameters") or ""
        for parameter in parameters:
            assert re.search(rf"(^|, ){parameter}\b", section, re.MULTILINE), (
                f"{name} does not document {parameter}"
            )
    assert any(_section(doc, title) is not None for title in ("Returns", "Yields", "Raises")), (
        f"{name} has no Returns, Yields or Raises section"
    )
