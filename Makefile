# Firebrick developer entry points. `make test` works on a fresh Debian box with python3.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# System packages the tests need (installed with apt-get when missing, as root only):
# the distributed tests and `make bench` also run a private RabbitMQ node and PostgreSQL;
# the Ceph tests a one-node Ceph cluster (and radosgw, the S3 server of the backup tests);
# the metrics tests a Prometheus server, the dashboard tests a headless Chromium;
# iproute2: the partition test of `make faults` makes a network namespace and a veth pair.
APT_PACKAGES ?= qemu-utils qemu-block-extra xfsprogs btrfs-progs tgt libiscsi-bin libnbd-bin nbdkit rabbitmq-server postgresql \
	ceph-mon ceph-mgr ceph-osd ceph-common python3-rados python3-rbd radosgw tgt-rbd prometheus chromium iproute2
# Parallel pytest workers; every integration test has its own ports and state dirs.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
CONFIG ?= $(wildcard etc/firebrick.conf)
BENCH_ARGS ?=
# embedded (one process), scaled (RabbitMQ + PostgreSQL, a process per role) or both.
BENCH_MODE ?= both
# Keystone (PyPI) in a venv of its own: the keystone tests and `make bench` start one on
# loopback. It is kept apart from Firebrick's venv so their pins never meet.
KEYSTONE_VENV ?= .keystone-venv
KEYSTONE_PACKAGES ?= keystone gunicorn psycopg2-binary
# Glance (PyPI, the 2026.2 release) in a venv of its own: the image tests, `make tempest`
# and `make bench` start one on loopback, registered in their Keystone.
GLANCE_VENV ?= .glance-venv
GLANCE_PACKAGES ?= glance==33.0.0 gunicorn
# Generated requests of the schemathesis run of `make fuzz` (per operation).
FUZZ_ARGS ?=
# OpenStack Tempest (PyPI), the conformance suite, in a venv of its own: `make tempest` runs
# its volume API tests; the integration tests check answers against its response schemas.
TEMPEST_VENV ?= .tempest-venv
TEMPEST_PACKAGES ?= tempest==47.0.0
TEMPEST_ARGS ?=

.PHONY: venv ceph-bindings apt keystone glance tempest-venv run test lint typecheck unit integration faults bench fuzz tempest clean

$(BIN)/python:
	@if ! $(PYTHON) -m venv $(VENV) >/dev/null 2>&1; then \
		rm -rf $(VENV); \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "python3 -m venv failed: installing python3-venv"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip; \
			$(PYTHON) -m venv $(VENV); \
		else \
			echo "python3 -m venv failed; install python3-venv (as root: apt-get install python3-venv)" >&2; \
			exit 1; \
		fi; \
	fi

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed ceph-bindings

# Ceph's Python bindings (rados, rbd) come from Debian (python3-rados, python3-rbd), built
# for Python 3.11 like the venv: link just those two modules into a directory of the venv
# and name it in a .pth file, instead of exposing all of Debian's dist-packages.
CEPH_BINDINGS_SRC ?= /usr/lib/python3/dist-packages
ceph-bindings: $(VENV)/.installed
	@mkdir -p $(VENV)/ceph-bindings; \
	for m in rados rbd; do \
		for f in $(CEPH_BINDINGS_SRC)/$$m.cpython-*.so; do \
			[ -e "$$f" ] && ln -sf "$$f" $(VENV)/ceph-bindings/; \
		done; \
	done; \
	site=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	echo "$$(cd $(VENV)/ceph-bindings && pwd)" > "$$site/firebrick-ceph-bindings.pth"

$(KEYSTONE_VENV)/.installed: $(BIN)/python
	rm -rf $(KEYSTONE_VENV)
	$(PYTHON) -m venv $(KEYSTONE_VENV)
	$(KEYSTONE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(KEYSTONE_VENV)/bin/python -m pip install --quiet $(KEYSTONE_PACKAGES)
	touch $@

keystone: $(KEYSTONE_VENV)/.installed

$(GLANCE_VENV)/.installed: $(BIN)/python
	rm -rf $(GLANCE_VENV)
	$(PYTHON) -m venv $(GLANCE_VENV)
	$(GLANCE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(GLANCE_VENV)/bin/python -m pip install --quiet $(GLANCE_PACKAGES)
	touch $@

glance: $(GLANCE_VENV)/.installed

$(TEMPEST_VENV)/.installed: $(BIN)/python
	rm -rf $(TEMPEST_VENV)
	$(PYTHON) -m venv $(TEMPEST_VENV)
	$(TEMPEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TEMPEST_VENV)/bin/python -m pip install --quiet $(TEMPEST_PACKAGES)
	touch $@

tempest-venv: $(TEMPEST_VENV)/.installed

apt:
ifneq ($(strip $(APT_PACKAGES)),)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing missing system packages:$$missing"; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		else \
			echo "missing system packages:$$missing (run as root or install them)" >&2; exit 1; \
		fi; \
	fi
endif

run: venv
	$(BIN)/firebrick serve $(if $(CONFIG),--config $(CONFIG))

lint: venv
	$(BIN)/ruff check src tests bench tools

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

integration: venv apt ceph-bindings keystone glance tempest-venv
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) tests/integration $(PYTEST_ARGS)

# The fault suite (the tests marked `faults`): full disks on loop-mounted filesystems, the
# database and the broker SIGKILLed under load, a network partition, a vanished backend,
# oversized and slow request bodies. Needs root. -rP prints what each case did and found.
FAULTS := $(BIN)/pytest -q -n $(PYTEST_WORKERS) -m faults -rP tests/integration $(PYTEST_ARGS)

# Everything (what CI runs): lint, types, the unit and integration tests, the fault suite,
# then Tempest's volume API suite.
test: venv apt ceph-bindings keystone glance tempest-venv lint typecheck
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) -m 'not faults' $(PYTEST_ARGS)
	$(FAULTS)
	$(BIN)/python tools/tempest.py $(TEMPEST_ARGS)

faults: venv apt ceph-bindings keystone
	$(FAULTS)

# The commit issue 18 (the create path on every core) started from: speed.py runs it beside
# this tree, in alternating rounds, and prints the ratio.
SPEED_BASE ?= 5af07c5

bench: venv apt ceph-bindings keystone glance
	$(BIN)/python bench/bench.py --mode $(BENCH_MODE) $(BENCH_ARGS)
	$(BIN)/python bench/speed.py --option '' --option osapi_volume_workers=1 --scaled --against $(SPEED_BASE)
	$(BIN)/python bench/clone_bench.py
	$(BIN)/python bench/image_bench.py
	$(BIN)/python bench/backup_bench.py
	$(BIN)/python bench/notify_bench.py
	$(BIN)/python bench/metrics_bench.py
	$(BIN)/python bench/rbd_bench.py

fuzz: venv apt
	$(BIN)/python tools/fuzz.py $(FUZZ_ARGS)

tempest: venv apt ceph-bindings keystone glance tempest-venv
	$(BIN)/python tools/tempest.py $(TEMPEST_ARGS)

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist
