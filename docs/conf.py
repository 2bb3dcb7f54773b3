"""Sphinx configuration of the calf-sklearn documentation.

Build it with ``make docs`` (warnings are errors). No extension here needs
network access: CI reaches package registries only, so ``intersphinx`` is not
used and names from other projects (numpy, pandas, torch, ...) are written as
plain text rather than as cross-references.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from datetime import date
from pathlib import Path

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
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
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
# The page's table of contents lists a class's methods as "fit", not "CALFForecaster.fit".
toc_object_entries_show_parents = "hide"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- MyST (Markdown pages, including the existing docs/*.md) -------------------

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# -- The examples gallery ---------------------------------------------------------

# Every script in examples/ runs at build time in its quick form (see
# docs/_gallery.py) and becomes a page with its code, its printed output and
# its figures; a script that fails fails the build.
sys.path.insert(0, str(Path(__file__).parent))
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",  # run every example, not only plot_*.py
    "reset_argv": "_gallery.example_argv",
    "within_subsection_order": "_gallery.ExampleOrder",
    # "Examples using X" on the API page of every public class and function.
    "doc_module": ("calf_sklearn",),
    "backreferences_dir": "reference/generated/backreferences",
    # Names in the examples' code link to their API pages.
    "reference_url": {"calf_sklearn": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "thumbnail_size": (320, 224),
    "default_thumb_file": str(Path(__file__).parent / "_static" / "no_figure_thumbnail.png"),
}

# -- HTML ----------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"calf-sklearn {release}"
html_static_path = ["_static"]
html_css_files = ["calf.css"]
html_theme_options = {
    "navbar_align": "left",
    # All six sections of the root toctree in the top bar, none in a "More" menu.
    "header_links_before_dropdown": 6,
    "navbar_end": ["theme-switcher"],
    "secondary_sidebar_items": ["page-toc"],
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    "search_bar_text": "Search the docs",
}
html_sidebars = {
    # The home page and the changelog are one page each: no section navigation.
    "index": [],
    "changelog": [],
}
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


def _constructor_signature(app, what, name, obj, options, signature, return_annotation):
    """The estimators' parameters, not ``(*args, **kwargs)``.

    Their base class defines ``__new__`` (to name the parameter a misspelt
    keyword meant), and autodoc prefers ``__new__``'s signature to
    ``__init__``'s. ``inspect.signature`` of the class finds ``__init__``'s.
    """
    if what == "class" and signature == "(*args, **kwargs)":
        return str(inspect.signature(obj)), return_annotation
    return None


def _skip_namedtuple_aliases(app, what, name, obj, skip, options):
    """NamedTuple fields are described in the class's Attributes section already."""
    if what == "class" and (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def setup(app):
    # Before numpydoc (priority 500) rewrites the lines.
    app.connect("autodoc-process-docstring", _drop_builtin_docstrings, priority=100)
    app.connect("autodoc-skip-member", _skip_namedtuple_aliases)
    app.connect("autodoc-process-signature", _constructor_signature)
    app.connect("env-check-consistency", _check_api_coverage)
