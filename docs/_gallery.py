"""How the documentation build runs the examples gallery (read by docs/conf.py).

sphinx-gallery imports these by name ("_gallery.example_argv"), which keeps
its configuration picklable and its cache valid between builds.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The gallery's order: first steps, then model selection and persistence,
# panels, and the benchmark data sets last. A script missing here sorts
# after these by file name, so a new example cannot vanish from the gallery.
ORDER = [
    "quickstart.py",
    "quickstart_csv.py",
    "pipeline.py",
    "grid_search.py",
    "save_load.py",
    "panel_intervals.py",
    "long_table.py",
    "compare_baselines.py",
    "few_shot.py",
    "precision.py",
]


def data_home():
    """The benchmark data: ``$CALF_SKLEARN_DATA``, else ``../shared/data`` beside the checkout."""
    return Path(os.environ.get("CALF_SKLEARN_DATA") or ROOT.parent / "shared" / "data")


def example_argv(gallery_conf, script_vars):
    """Command-line arguments of one example: its quick form, and the data where it reads some."""
    argv = ["--quick"]
    source = Path(script_vars["src_file"]).read_text()
    if '"--data-home"' in source:
        argv += ["--data-home", str(data_home())]
    return argv


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``: the order of ``ORDER``."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        return (ORDER.index(name), "") if name in ORDER else (len(ORDER), name)

    def __repr__(self):
        return f"{type(self).__name__}()"
