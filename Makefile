# Two targets do all the set-up on a fresh clone: `make demo` and `make test`.
# Both create .venv and install the package with the pinned development set
# (constraints.txt) the first time, with the sktime and dask extras, whose
# integrations the suite tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test docs clean

install: $(VENV)/.installed

# The sktime extra goes in separately, without sktime's own pandas<3.1 cap
# (see constraints.txt); `pip install "calf-sklearn[sktime]"` keeps the cap.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,dask]"
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt sktime scikit-base
	touch $@

demo: install
	$(BIN)/python -m calf_sklearn.demo

test: install
	$(BIN)/python -m pytest

# The documentation tools go into the same .venv, pinned by constraints.txt.
$(VENV)/.docs-installed: $(VENV)/.installed pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,dask,docs]"
	touch $@

# HTML documentation in docs/_build/html. -W: warnings are errors; -n: every
# cross-reference must resolve; -E: every page is read afresh, so a warning
# is never hidden by a cached page. The stubs autosummary generates
# (docs/reference/generated) and the examples gallery (docs/auto_examples,
# every script in examples/ run in its --quick form) are rebuilt each time.
docs: $(VENV)/.docs-installed
	rm -rf docs/reference/generated docs/auto_examples docs/sg_execution_times.rst
	$(BIN)/sphinx-build -E -W --keep-going -n -b html docs docs/_build/html
	$(BIN)/python docs/check_build.py docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis docs/_build docs/reference/generated \
		docs/auto_examples docs/sg_execution_times.rst
