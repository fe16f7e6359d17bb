# Two entry points for a fresh machine: `make sweep` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install sweep test

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,infra]'
	touch $(STAMP)

install: $(STAMP)

sweep: $(STAMP)
	$(BIN)/invoke tune

test: $(STAMP)
	$(BIN)/pytest
