# Two entry points for a fresh machine: `make sweep` and `make test`. Each installs what its command needs
# (pyproject.toml: the base packages for a local sweep; the dev extra, which brings the vertex and infra extras,
# for the tests and everything else), with uv where the package index has it, else pip, one line per step.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The policy pack's own environment (infra/policypack/PulumiPolicy.yaml).
POLICY_VENV := infra/policypack/venv
# uv reads no pip config: the wheel folder pip is pointed at (PIP_FIND_LINKS) is passed on, so a machine whose
# disk holds the CPU build of torch (CI's) keeps taking it; constraints.txt pins which torch.
UV_SOURCES := $(if $(PIP_INDEX_URL),--index-url $(PIP_INDEX_URL)) $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS))
# Python's own default, whatever the shell says: each module is compiled on first import and the bytecode kept. The
# tests start hundreds of processes (trials, tasks) importing the same modules; compiling them in each one (what
# PYTHONDONTWRITEBYTECODE=1 makes happen) nearly doubles torch's import, and compiling every installed module ahead
# (uv --compile-bytecode, pip's default) takes longer than the whole test run saves: neither installer does it here.
unexport PYTHONDONTWRITEBYTECODE
# Test processes at once: one per core (pytest-xdist's auto). On 2 cores, 3 workers were no faster than 2 (the
# trials' processes keep both cores busy).
TEST_WORKERS ?= auto

.PHONY: install sweep test browser

$(BIN)/python:
	@echo "==> creating the environment $(VENV)"
	@$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	@echo "==> fetching uv, a faster installer (pip installs if it cannot be had)"
	@$(BIN)/pip install --quiet --disable-pip-version-check uv || echo "    no uv: pip installs"

# $(call install,PYTHON,ARGS): uv when it is there (pip if uv fails), else pip, showing each step
define install
	@if [ -x $(BIN)/uv ] && $(BIN)/uv pip install --python $(1) $(UV_SOURCES) $(2); then :; \
	else $(1) -m pip install --progress-bar off --no-compile $(2); fi
endef

$(VENV)/.sweep: pyproject.toml constraints.txt | $(BIN)/uv
	@echo "==> installing what a local sweep needs"
	$(call install,$(BIN)/python,-c constraints.txt -e .)
	@touch $@

$(VENV)/.test: pyproject.toml constraints.txt | $(BIN)/uv
	@echo "==> installing everything: Vertex AI, Pulumi, the test tools"
	$(call install,$(BIN)/python,-c constraints.txt -e '.[dev]')
	@touch $@ $(VENV)/.sweep

install: $(VENV)/.test $(POLICY_VENV)/.installed

sweep: $(VENV)/.sweep
	@echo "==> a local sweep of the built-in dataset"
	$(BIN)/invoke tune

# Headless Chromium for the report's browser test, from Debian's packages where this runs as root with
# apt-get (CI does); elsewhere (macOS, a non-root user) the browser test is skipped and says why.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium (Debian) for the report's browser test"; \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "no chromium and no root apt-get: the report's browser test will be skipped"; fi

# The policy pack's environment, where the engine runs the pack from (PulumiPolicy.yaml: virtualenv venv) without
# making it; its tests start the pack from it the way the engine does.
$(POLICY_VENV)/.installed: infra/policypack/requirements.txt | $(BIN)/uv
	@echo "==> installing the policy pack's own environment"
	@$(PYTHON) -m venv $(POLICY_VENV)
	$(call install,$(POLICY_VENV)/bin/python,-r infra/policypack/requirements.txt)
	@touch $@

# The three installs need nothing of each other: made side by side, Debian's chromium unpacks while uv installs.
test:
	@$(MAKE) --no-print-directory -j3 $(VENV)/.test $(POLICY_VENV)/.installed browser
	@echo "==> checks and tests"
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal
