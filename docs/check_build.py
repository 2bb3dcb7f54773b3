"""Check what ``make docs`` built: the gallery, the navigation bar, the figures.

    python docs/check_build.py [docs/_build/html]

``make docs`` runs it after sphinx-build; CI fails when it fails. Sphinx's
own warnings (errors under -W) cannot see these: a gallery page without the
figure its script draws, a thumbnail grid with an example missing, a
section gone from the top bar, a results figure dropped from its page.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAVBAR = ["Getting started", "User guide", "Examples", "API reference", "Benchmarks and results", "Changelog"]
RESULTS_FIGURES = ["etth1_h96_random_cpu.png", "m4_hourly_random_cpu.png"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check(html):
    """Return the list of problems found in the built site at ``html`` (a folder)."""
    problems = []
    gallery = html / "auto_examples"
    index = (gallery / "index.html").read_text() if (gallery / "index.html").is_file() else ""
    if not index:
        return [f"no gallery index at {gallery / 'index.html'}"]
    for script in sorted((ROOT / "examples").glob("*.py")):
        name = script.stem
        page = gallery / f"{name}.html"
        if not page.is_file():
            problems.append(f"examples/{script.name}: no gallery page {page.name}")
            continue
        text = page.read_text()
        if "sphx-glr-script-out" not in text:
            problems.append(f"examples/{script.name}: its page shows no printed output")
        if f'href="{name}.html' not in index:
            problems.append(f"examples/{script.name}: missing from the gallery's thumbnail grid")
        # Sphinx copies every image the pages show into _images.
        thumbnail = html / "_images" / f"sphx_glr_{name}_thumb.png"
        if not thumbnail.is_file() or thumbnail.read_bytes()[:8] != PNG_SIGNATURE:
            problems.append(f"examples/{script.name}: no thumbnail {thumbnail.name}")
        elif f"_images/{thumbnail.name}" not in index:
            problems.append(f"examples/{script.name}: its thumbnail is not in the grid")
        figures = re.findall(rf'src="\.\./_images/(sphx_glr_{name}_\d{{3}}\.png)"', text)
        if "matplotlib" in script.read_text() and not figures:
            problems.append(f"examples/{script.name} draws with matplotlib but its page shows no figure")
        for figure in figures:
            image = html / "_images" / figure
            if not image.is_file() or image.read_bytes()[:8] != PNG_SIGNATURE:
                problems.append(f"{page.name} shows {figure}, which is missing or not a PNG")
    home = (html / "index.html").read_text()
    navbar = re.search(r'<ul class="bd-navbar-elements navbar-nav">(.*?)</ul>', home, re.DOTALL)
    labels = re.findall(r">\s*([^<>]+?)\s*</a>", navbar[1]) if navbar else []
    if labels != NAVBAR:
        problems.append(f"navigation bar is {labels}, expected {NAVBAR}")
    results = (html / "results.html").read_text()
    for figure in RESULTS_FIGURES:
        if f'src="_images/{figure}"' not in results:
            problems.append(f"results.html does not show {figure}")
    if not (html / "searchindex.js").is_file():
        problems.append("no searchindex.js: the search page would find nothing")
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    html = Path(argv[0]) if argv else ROOT / "docs" / "_build" / "html"
    problems = check(html)
    for problem in problems:
        print(f"docs/check_build.py: {problem}", file=sys.stderr)
    if problems:
        return 1
    n_pages = len(list((ROOT / "examples").glob("*.py")))
    print(f"docs/check_build.py: {n_pages} gallery pages, navigation bar and results figures as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
