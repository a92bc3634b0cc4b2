# The two commands of the README, and the rest of the project's jobs.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: quickstart test miniature

# torch==2.13.0 first: an unpinned torch in an empty venv pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

quickstart: $(VENV)/.installed
	$(VENV)/bin/spct score examples/items.jsonl -o runs/quickstart.jsonl --samples 4 --show

test: $(VENV)/.installed
	$(PY) -m pytest

# Rebuild the embedded miniature GRM (about 50 min on 2 cores) and its report in docs/.
# Rarely: every rebuilt checkpoint stays in git history.
miniature: $(VENV)/.installed
	$(VENV)/bin/spct miniature build
	$(VENV)/bin/spct miniature eval
