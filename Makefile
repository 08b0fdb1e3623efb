# Fresh machine: `make demo` or `make test` creates .venv, installs ncodec into it, then runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install bench-entropy clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,ray]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ncodec demo

test: $(STAMP)
	$(PY) -m pytest -q

bench-entropy: $(STAMP)
	$(PY) benchmarks/entropy_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info
