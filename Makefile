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

.PHONY: venv collection demo bench bench-quick sanity test test-unit test-integration lint changelog-lint build clean

$(STAMP): requirements.txt requirements-test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $(STAMP)

venv: $(STAMP)

collection:
	mkdir -p $(COLLECTIONS)/ansible_collections/hyperv
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/hyperv/checkpoint

demo: venv collection
	$(BIN)/python tests/sim/run_demo.py

# Not part of `make test`. bench-quick: fewer runs and sizes. BENCH_TIME_SCALE (default 0.1) scales the
# simulated latencies; BENCH_ARGS passes options (e.g. --only per_task). See docs/performance.md.
bench: venv collection
	cd tests/sim && $(CURDIR)/$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: venv collection
	cd tests/sim && $(CURDIR)/$(BIN)/python -m bench --quick --out $(CURDIR)/build/bench/results-quick.json $(BENCH_ARGS)

test: venv collection
	$(BIN)/python -m pytest tests/unit tests/sim/tests tests/integration -q
	$(MAKE) --no-print-directory lint changelog-lint

test-unit: venv collection
	$(BIN)/python -m pytest tests/unit tests/sim/tests -q

test-integration: venv collection
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
	git archive HEAD | tar -x -C $(SANITY_ROOT)
	cd $(SANITY_ROOT) && $(CURDIR)/$(BIN)/ansible-test sanity --venv --python 3.11 --skip-test pslint

build: venv
	$(BIN)/ansible-galaxy collection build --force --output-path build/

clean:
	rm -rf build .ansible tests/output
