# Two entry points for a fresh machine: `make sweep` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install sweep test browser

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,infra]'
	touch $(STAMP)

install: $(STAMP)

sweep: $(STAMP)
	$(BIN)/invoke tune

# Headless Chromium for the report's browser test, from Debian's packages where this runs as root with
# apt-get (CI does); elsewhere (macOS, a non-root user) the browser test is skipped and says why.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium (Debian) for the report's browser test"; \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "no chromium and no root apt-get: the report's browser test will be skipped"; fi

# The policy pack's own environment, as Pulumi makes it (infra/policypack/PulumiPolicy.yaml: virtualenv venv);
# its tests start the pack from it the way the engine does.
POLICY_VENV := infra/policypack/venv
$(POLICY_VENV)/.installed: infra/policypack/requirements.txt
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install --quiet -r infra/policypack/requirements.txt
	touch $@

test: $(STAMP) $(POLICY_VENV)/.installed browser
	$(BIN)/ruff check .
	$(BIN)/pytest
