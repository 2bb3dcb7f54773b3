"""docs/check_build.py, which ``make docs`` runs, finds what a broken build lacks.

The documentation build itself runs in CI after the tests (``make docs``);
here the checker is run on a small site laid out as sphinx-gallery and the
pydata theme lay it out, complete and then with one thing missing at a time.
"""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_build", ROOT / "docs" / "check_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_build = _load_checker()
SCRIPTS = sorted((ROOT / "examples").glob("*.py"))
DRAWING = [script.stem for script in SCRIPTS if "matplotlib" in script.read_text()]


@pytest.fixture
def site(tmp_path):
    """A built site with everything the checker looks for."""
    html = tmp_path / "html"
    (html / "auto_examples").mkdir(parents=True)
    (html / "_images").mkdir()
    cards = []
    for script in SCRIPTS:
        name = script.stem
        (html / "_images" / f"sphx_glr_{name}_thumb.png").write_bytes(PNG)
        cards.append(f'<a href="{name}.html"><img src="../_images/sphx_glr_{name}_thumb.png"></a>')
        figure = ""
        if name in DRAWING:
            (html / "_images" / f"sphx_glr_{name}_001.png").write_bytes(PNG)
            figure = f'<img src="../_images/sphx_glr_{name}_001.png">'
        page = f'<div class="sphx-glr-script-out"><pre>output</pre></div>{figure}'
        (html / "auto_examples" / f"{name}.html").write_text(page)
    (html / "auto_examples" / "index.html").write_text("\n".join(cards))
    links = "".join(f'<li><a href="x.html">\n  {label}\n</a></li>' for label in check_build.NAVBAR)
    (html / "index.html").write_text(f'<ul class="bd-navbar-elements navbar-nav">{links}</ul>')
    figures = "".join(f'<img src="_images/{figure}">' for figure in check_build.RESULTS_FIGURES)
    (html / "results.html").write_text(figures)
    (html / "searchindex.js").write_text("Search.setIndex({})")
    return html


def test_a_complete_site_passes(site):
    assert DRAWING, "at least one example draws a figure"
    assert check_build.check(site) == []
    assert check_build.main([str(site)]) == 0


def test_a_missing_figure_thumbnail_or_page_is_named(site):
    drawing = DRAWING[0]
    (site / "_images" / f"sphx_glr_{drawing}_001.png").unlink()
    quiet = next(script.stem for script in SCRIPTS if script.stem != drawing)
    (site / "_images" / f"sphx_glr_{quiet}_thumb.png").unlink()
    last = SCRIPTS[-1].stem
    (site / "auto_examples" / f"{last}.html").unlink()
    problems = check_build.check(site)
    assert any(f"sphx_glr_{drawing}_001.png, which is missing" in problem for problem in problems)
    assert any(f"examples/{quiet}.py: no thumbnail" in problem for problem in problems)
    assert any(f"examples/{last}.py: no gallery page" in problem for problem in problems)
    assert check_build.main([str(site)]) == 1


def test_a_page_without_output_or_a_drawing_example_without_figures_fails(site):
    drawing = DRAWING[0]
    (site / "auto_examples" / f"{drawing}.html").write_text("<p>no output, no image</p>")
    problems = check_build.check(site)
    assert f"examples/{drawing}.py: its page shows no printed output" in problems
    assert f"examples/{drawing}.py draws with matplotlib but its page shows no figure" in problems


def test_the_navigation_bar_results_figures_and_search_index_are_checked(site):
    index = site / "index.html"
    index.write_text(index.read_text().replace("Changelog", "Changes"))
    results = site / "results.html"
    results.write_text(results.read_text().replace(check_build.RESULTS_FIGURES[0], "other.png"))
    (site / "searchindex.js").unlink()
    problems = check_build.check(site)
    assert any(problem.startswith("navigation bar is [") and "'Changes'" in problem for problem in problems)
    assert f"results.html does not show {check_build.RESULTS_FIGURES[0]}" in problems
    assert "no searchindex.js: the search page would find nothing" in problems
