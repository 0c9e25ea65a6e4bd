# Two entry points for a fresh clone: `make demo` and `make test`.
# Both create the virtualenv (.venv) from the pinned requirements when it is missing or stale.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The other supported ansible-core releases, each in its own virtualenv (.venv-2.20, .venv-2.21) from
# requirements-ansible-<version>.txt, on the Python it needs (3.12+; 2.21 on 3.13, so both are covered).
CORE_VERSIONS := 2.20 2.21
PYTHON_2.20 ?= $(call find_python,3.12)
PYTHON_2.21 ?= $(call find_python,3.13)
# The first interpreter of that version that really runs: on PATH (a pyenv shim of a version that is not
# selected exits 127), in pyenv's versions, or the system's.
find_python = $(firstword $(foreach candidate,$(shell command -v python$(1) 2>/dev/null) \
  $(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/$(1).*/bin/python$(1))) \
  $(wildcard /usr/local/bin/python$(1) /usr/bin/python$(1)),$(if $(shell $(candidate) -c 'print(1)' 2>/dev/null),$(candidate))))
# The collection must sit at .../ansible_collections/hyperv/checkpoint for Ansible to load it;
# build/ holds a symlinked tree for pytest/ansible-playbook runs.
COLLECTIONS := $(CURDIR)/build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_HOME := $(CURDIR)/.ansible
export ANSIBLE_LOCAL_TEMP := $(CURDIR)/.ansible/tmp
export PATH := $(CURDIR)/$(BIN):$(PATH)

# test-core-<version> and sanity-<version> are pattern rules, which make skips for .PHONY targets.
.PHONY: venv venvs collection browser kerberos demo bench bench-quick sanity sanity-all pscheck test test-unit test-integration \
  test-versions lint changelog-lint typecheck docs docs-lint build galaxy-importer ee-context clean

# kerberos first: the Kerberos libraries of requirements-connections.txt build against MIT Kerberos' headers.
$(STAMP): requirements.txt requirements-test.txt requirements-connections.txt requirements-sim.txt | kerberos
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $(STAMP)

venv: $(STAMP)

.venv-%/.installed: requirements-ansible-%.txt requirements-connections.txt requirements-sim.txt | kerberos
	@test -n "$(PYTHON_$*)" || { echo "ansible-core $* needs Python $(if $(filter 2.20,$*),3.12,3.13): none found (set PYTHON_$*=/path/to/python)"; exit 1; }
	test -x .venv-$*/bin/python || $(PYTHON_$*) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -r requirements-ansible-$*.txt
	touch $@

# The three virtualenvs are independent: made side by side (pip mostly waits on the index and the disk).
VENV_STAMPS := $(STAMP) $(foreach version,$(CORE_VERSIONS),.venv-$(version)/.installed)
venvs:
	@$(MAKE) --no-print-directory -j3 $(VENV_STAMPS)

# Left alone when it is already right: `make test` runs the checks (which depend on it) beside the tests that use it.
collection:
	mkdir -p $(COLLECTIONS)/ansible_collections/hyperv
	test "$$(readlink $(COLLECTIONS)/ansible_collections/hyperv/checkpoint)" = "$(CURDIR)" || \
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

# MIT Kerberos (Debian packages), installed only when missing (apt needs root or sudo): the KDC and kadmin.local
# for the test realm the tests marked `kerberos` start (tests/sim/hyperv_sim/kerberos_realm.py), kinit and klist
# (the winrm connection runs kinit), and the headers and compiler that pykerberos, gssapi and krb5 build with.
KERBEROS_PACKAGES := krb5-kdc krb5-admin-server krb5-user libkrb5-dev gcc
kerberos:
	@missing=$$(for package in $(KERBEROS_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q 'install ok installed' || echo $$package; done); \
	test -z "$$missing" || { \
	  echo "Installing the Debian packages $$missing (Kerberos: the test realm's KDC, kinit, the libraries' headers)"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; }

demo: venv collection
	$(BIN)/python tests/sim/run_demo.py

# Not part of `make test`. bench-quick: fewer runs and sizes. BENCH_TIME_SCALE (default 0.1) scales the
# simulated latencies; BENCH_ARGS passes options (e.g. --only per_task). See docs/performance.md.
bench: venv collection
	cd tests/sim && $(CURDIR)/$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: venv collection
	cd tests/sim && $(CURDIR)/$(BIN)/python -m bench --quick --out $(CURDIR)/build/bench/results-quick.json $(BENCH_ARGS)

# Everything on ansible-core 2.19 (the whole suite, every transport), then on 2.20 and 2.21 the integration
# tests marked `transports` (every module, the inventory plugin and the role over winrm, psrp and ssh) and
# ansible-test sanity of each version. See tests/integration/README.md.
#
# The pytest runs use TEST_WORKERS xdist workers, more than the two cores: an integration test spends most of its
# time waiting (simulated merges, hosts starting and answering, ansible-playbook and Molecule runs), so two workers
# left the cores half idle.
# The checks that start no simulated host (CHECKS) run beside the pytest runs, one after the other, niced: they use
# what the tests leave idle, while the tests keep the CPU whenever they need it (the checks have no timeouts that
# load could trip). Their output is kept in CHECKS_LOG and printed once they are done; the target fails when either
# side failed. The recipe names make through SUBMAKE, not $(MAKE), which would make `make -n test` run it (and the
# tests) instead of printing it.
TEST_WORKERS ?= 4
CHECKS := lint changelog-lint docs-lint typecheck galaxy-importer sanity-all
CHECKS_LOG := build/checks.log
SUBMAKE = $(MAKE) --no-print-directory
test: venvs collection browser kerberos pscheck
	@mkdir -p build; \
	echo "Beside the tests, niced: make $(CHECKS) (output in $(CHECKS_LOG), printed when they are done)"; \
	nice -n 10 $(SUBMAKE) $(CHECKS) > $(CHECKS_LOG) 2>&1 & checks=$$!; \
	$(BIN)/python -m pytest tests/unit tests/sim/tests tests/integration -q -n $(TEST_WORKERS) && \
	  $(SUBMAKE) test-versions; tested=$$?; \
	wait $$checks; checked=$$?; \
	echo "--- make $(CHECKS), beside the tests (exit status $$checked):"; cat $(CHECKS_LOG); \
	test $$tested -eq 0 && test $$checked -eq 0

# The static checks of the PowerShell scripts (tools/pscheck: parse, cmdlet catalog, host protocol).
pscheck: venv
	$(BIN)/python tools/pscheck/pscheck.py plugins

test-versions: $(addprefix test-core-,$(CORE_VERSIONS))

# pytest.ini's addopts name pytest-ansible, which only .venv has; without its collection path injection,
# test modules that import the collection find it through PYTHONPATH.
test-core-%: .venv-%/.installed collection
	PATH=$(CURDIR)/.venv-$*/bin:$$PATH PYTHONPATH=$(COLLECTIONS) .venv-$*/bin/python -m pytest tests/integration \
	  -m transports -q -n $(TEST_WORKERS) -o addopts="-p no:cacheprovider"

test-unit: venv collection
	$(BIN)/python -m pytest tests/unit tests/sim/tests -q

test-integration: venv collection browser
	$(BIN)/python -m pytest tests/integration -q

lint: venv collection
	$(BIN)/ansible-lint --offline --profile production roles playbooks extensions

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

# mypy (mypy.ini) over the controller-side code, for each Python the collection supports on the controller.
# It runs in the collections tree, where the code is the package ansible_collections.hyperv.checkpoint that
# it imports itself as; its cache goes to build/, not into the checkout.
TYPECHECK_PYTHONS := 3.11 3.12 3.13
TYPECHECK_PACKAGES := $(addprefix -p ansible_collections.hyperv.checkpoint.plugins.,plugin_utils action)
typecheck: venv collection
	cd $(COLLECTIONS) && for version in $(TYPECHECK_PYTHONS); do \
	  echo "mypy, Python $$version"; \
	  MYPYPATH=$(COLLECTIONS) $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/mypy.ini --python-version $$version \
	    --cache-dir $(CURDIR)/build/mypy-cache/$$version $(TYPECHECK_PACKAGES) || exit 1; \
	done

# antsibull-docs' checks of what docs.ansible.com would render: every module's, plugin's and the role's documentation
# (schema, markup, references), as RST through rstcheck.
docs-lint: venv collection
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .

# The documentation site, as docs.ansible.com renders collections (antsibull-docs, Sphinx): open
# build/docs/html/index.html. The guides stay Markdown (GitHub and Automation Hub render it); tools/docsite/build.py
# converts them to RST extra docs at build time (pandoc) and lists them in its GUIDES. No network at build time.
# Not in `make test`: tests/unit/collection/test_docsite.py builds it there.
docs: venv collection
	$(BIN)/python tools/docsite/build.py build/docs

# ansible-test needs a real .../ansible_collections/hyperv/checkpoint copy (not a symlink),
# outside this checkout (inside it, git would hide the copy's files as ignored).
SANITY_BASE := $(or $(TMPDIR),/tmp)/hyperv-checkpoint-sanity
SANITY_ROOT := $(SANITY_BASE)/ansible_collections/hyperv/checkpoint
sanity: venv sanity-copy
	cd $(SANITY_ROOT) && $(CURDIR)/$(BIN)/ansible-test sanity --venv --python 3.11 --skip-test pslint

# ansible-test of 2.20 and 2.21 with the Python of their virtualenv (first on PATH, so --python finds it).
sanity-%: .venv-%/.installed sanity-copy
	cd $(SANITY_ROOT) && PATH=$(CURDIR)/.venv-$*/bin:$$PATH $(CURDIR)/.venv-$*/bin/ansible-test sanity --venv \
	  --python $$($(CURDIR)/.venv-$*/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') --skip-test pslint

sanity-all: sanity $(addprefix sanity-,$(CORE_VERSIONS))

.PHONY: sanity-copy
sanity-copy:
	mkdir -p $(HOME)/.ansible/test/cache
	for version in 24_2 25_2; do cp tests/sanity/get_pip_standin.py $(HOME)/.ansible/test/cache/get_pip_$$version.py; done
	rm -rf $(SANITY_BASE) && mkdir -p $(SANITY_ROOT)
	git ls-files --cached --others --exclude-standard -z | tar -c --null -T - --ignore-failed-read -f - | tar -x -C $(SANITY_ROOT)

VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
build: venv
	$(BIN)/ansible-galaxy collection build --force --output-path build/

# galaxy-importer (what Galaxy and Automation Hub run on upload) on the built collection, in a directory of its own
# (it writes importer_result.json where it runs): any WARNING or ERROR line fails.
IMPORTER_DIR := $(or $(TMPDIR),/tmp)/hyperv-checkpoint-importer
galaxy-importer: build collection
	rm -rf $(IMPORTER_DIR) && mkdir -p $(IMPORTER_DIR)
	cd $(IMPORTER_DIR) && GALAXY_IMPORTER_CONFIG=$(CURDIR)/tools/galaxy-importer.cfg $(CURDIR)/$(BIN)/python -m \
	  galaxy_importer.main $(CURDIR)/build/hyperv-checkpoint-$(VERSION).tar.gz > importer.log 2>&1; \
	  rc=$$?; cat importer.log; test $$rc -eq 0 && ! grep -E '^(WARNING|ERROR)' importer.log

# The build context of the execution environment (execution-environment.yml); build the image
# with `podman build -t hyperv-checkpoint-ee build/ee/context`.
ee-context: venv
	mkdir -p build/ee
	$(BIN)/ansible-galaxy collection build --force --output-path build/ee/
	cp build/ee/hyperv-checkpoint-$$(sed -n 's/^version: *//p' galaxy.yml).tar.gz build/ee/hyperv-checkpoint.tar.gz
	$(BIN)/ansible-builder create --file execution-environment.yml --context build/ee/context --output-filename Containerfile

clean:
	rm -rf build .ansible tests/output .venv-*
