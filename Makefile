# Two entry points for a fresh clone: `make demo` and `make test`.
# Both create the virtualenv (.venv) from the pinned requirements when it is missing or stale.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The collection must sit at .../ansible_collections/hyperv/checkpoint for Ansible to load it;
# build/ holds a symlinked tree for pytest/ansible-playbook runs.
COLLECTIONS := $(CURDIR)/build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_HOME := $(CURDIR)/.ansible
export ANSIBLE_LOCAL_TEMP := $(CURDIR)/.ansible/tmp
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv collection browser demo bench bench-quick sanity pscheck test test-unit test-integration lint changelog-lint build ee-context clean

$(STAMP): requirements.txt requirements-test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $(STAMP)

venv: $(STAMP)

collection:
	mkdir -p $(COLLECTIONS)/ansible_collections/hyperv
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/hyperv/checkpoint

# Headless Chromium (Debian package) renders playbooks/report.yml's HTML report in
# tests/integration/test_safe_change.py (tests/integration/browser.py); installed only when missing
# (apt needs root or sudo).
CHROMIUM ?= chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
	  echo "Installing the Debian package chromium (headless browser for the HTML report test)"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium; }

demo: venv collection
	$(BIN)/python tests/sim/run_demo.py

# Not part of `make test`. bench-quick: fewer runs and sizes. BENCH_TIME_SCALE (default 0.1) scales the
# simulated latencies; BENCH_ARGS passes options (e.g. --only per_task). See docs/performance.md.
bench: venv collection
	cd tests/sim && $(CURDIR)/$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: venv collection
	cd tests/sim && $(CURDIR)/$(BIN)/python -m bench --quick --out $(CURDIR)/build/bench/results-quick.json $(BENCH_ARGS)

test: venv collection browser
	$(BIN)/python tests/unit/powershell/pscheck.py plugins
	$(BIN)/python -m pytest tests/unit tests/sim/tests tests/integration -q -n 2
	$(MAKE) --no-print-directory lint changelog-lint sanity

test-unit: venv collection
	$(BIN)/python -m pytest tests/unit tests/sim/tests -q

test-integration: venv collection browser
	$(BIN)/python -m pytest tests/integration -q

lint: venv collection
	$(BIN)/ansible-lint --offline --profile production roles playbooks

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

# ansible-test needs a real .../ansible_collections/hyperv/checkpoint copy (not a symlink),
# outside this checkout (inside it, git would hide the copy's files as ignored).
SANITY_BASE := $(or $(TMPDIR),/tmp)/hyperv-checkpoint-sanity
SANITY_ROOT := $(SANITY_BASE)/ansible_collections/hyperv/checkpoint
sanity: venv
	mkdir -p $(HOME)/.ansible/test/cache
	cp tests/sanity/get_pip_standin.py $(HOME)/.ansible/test/cache/get_pip_24_2.py
	rm -rf $(SANITY_BASE) && mkdir -p $(SANITY_ROOT)
	git ls-files --cached --others --exclude-standard -z | tar -c --null -T - --ignore-failed-read -f - | tar -x -C $(SANITY_ROOT)
	cd $(SANITY_ROOT) && $(CURDIR)/$(BIN)/ansible-test sanity --venv --python 3.11 --skip-test pslint

build: venv
	$(BIN)/ansible-galaxy collection build --force --output-path build/

# The build context of the execution environment (execution-environment.yml); build the image
# with `podman build -t hyperv-checkpoint-ee build/ee/context`.
ee-context: venv
	mkdir -p build/ee
	$(BIN)/ansible-galaxy collection build --force --output-path build/ee/
	cp build/ee/hyperv-checkpoint-$$(sed -n 's/^version: *//p' galaxy.yml).tar.gz build/ee/hyperv-checkpoint.tar.gz
	$(BIN)/ansible-builder create --file execution-environment.yml --context build/ee/context --output-filename Containerfile

clean:
	rm -rf build .ansible tests/output
