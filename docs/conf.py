"""Sphinx configuration of the calf-sklearn documentation.

Build it with ``make docs`` (warnings are errors). No extension here needs
network access: CI reaches package registries only, so ``intersphinx`` is not
used and names from other projects (numpy, pandas, torch, ...) are written as
plain text rather than as cross-references.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import date

import calf_sklearn

# -- Project -----------------------------------------------------------------

project = "calf-sklearn"
author = "calf-sklearn developers"
copyright = f"{date.today().year}, {author}"
release = calf_sklearn.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store"]
# Every cross-reference must resolve (sphinx-build -n).
nitpicky = True

# -- autodoc / autosummary / numpydoc ----------------------------------------

autosummary_generate = True
autosummary_ignore_module_all = False
# The docstrings give the types in numpydoc's Parameters sections; the few
# annotations in the code (dataclass fields) would only repeat them.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# A method without a docstring stays undocumented instead of showing the
# docstring of the torch or scikit-learn method it overrides.
autodoc_inherit_docstrings = False
add_module_names = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- MyST (Markdown pages, including the existing docs/*.md) -------------------

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# -- HTML ----------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"calf-sklearn {release}"
html_theme_options = {
    "description": "CALF forecasting as a scikit-learn estimator",
    "page_width": "1100px",
    "sidebar_width": "230px",
    "fixed_sidebar": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_show_sourcelink = False

# -- Public API coverage ---------------------------------------------------------

# Every module of the package whose name does not start with "_" is public:
# the API reference must show it, and every name in its ``__all__`` either
# under the module or, for a name the package re-exports, under
# ``calf_sklearn``. Anything missing is a build warning (an error under
# ``make docs``), so a new public module or name cannot go undocumented.
PUBLIC_MODULES = ["calf_sklearn"] + sorted(
    f"calf_sklearn.{module.name}"
    for module in pkgutil.iter_modules(calf_sklearn.__path__)
    if not module.name.startswith("_")
)


def _check_api_coverage(app, env):
    from sphinx.util import logging as sphinx_logging

    logger = sphinx_logging.getLogger("calf_sklearn.docs")
    documented = set(env.get_domain("py").objects)
    package = importlib.import_module("calf_sklearn")
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        if module_name != "calf_sklearn" and module_name not in documented:
            logger.warning("public module %s is not in the API reference", module_name)
        for name in getattr(module, "__all__", []):
            if f"{module_name}.{name}" in documented:
                continue
            reexported = getattr(package, name, None) is getattr(module, name)
            if reexported and f"calf_sklearn.{name}" in documented:
                continue
            logger.warning("%s.%s (in __all__) is not in the API reference", module_name, name)


def _drop_builtin_docstrings(app, what, name, obj, options, lines):
    """A constant without a doc comment would show the docstring of its type (str, int, ...)."""
    if what == "data" and type(obj).__module__ == "builtins" and lines:
        type_doc = (type(obj).__doc__ or "").strip().splitlines()
        if type_doc and lines[0].strip() == type_doc[0].strip():
            lines.clear()


def _skip_namedtuple_aliases(app, what, name, obj, skip, options):
    """NamedTuple fields are described in the class's Attributes section already."""
    if what == "class" and (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def setup(app):
    # Before numpydoc (priority 500) rewrites the lines.
    app.connect("autodoc-process-docstring", _drop_builtin_docstrings, priority=100)
    app.connect("autodoc-skip-member", _skip_namedtuple_aliases)
    app.connect("env-check-consistency", _check_api_coverage)
