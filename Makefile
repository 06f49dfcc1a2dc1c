# Two entry points: `make demo` (the product) and `make test` (everything CI runs).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PEERS := tests/peers/node_modules/.installed-stamp

.PHONY: demo test lint typecheck pytest bootstrap bootstrap-test peers clean soak bench dist

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

bootstrap:
	bash scripts/bootstrap.sh

bootstrap-test:
	bash scripts/bootstrap.sh --test

$(PEERS): tests/peers/package.json tests/peers/package-lock.json
	cd tests/peers && npm ci --no-audit --no-fund --loglevel=error
	touch $@

peers: $(PEERS) peers-python

demo: bootstrap $(STAMP)
	$(PY) scripts/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: bootstrap-test $(STAMP) $(PEERS) peers-python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The wheel and sdist in dist/, checked by twine (make test builds and checks them too, in
# tests/test_dist.py, which also checks what the wheel holds).
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .
	$(VENV)/bin/twine check --strict dist/*

clean:
	rm -rf dist $(VENV) tests/peers/node_modules tests/peers/python/.venv .mypy_cache .ruff_cache .pytest_cache

# Test-only Python bullmq 3.4.4 peer (interop tests), in its own venv: tests/peers/python/.venv
PY_PEER := tests/peers/python/.venv/.installed-stamp

$(PY_PEER): tests/peers/python/requirements.txt tests/peers/python/setup.sh
	bash tests/peers/python/setup.sh

.PHONY: peers-python
peers-python: $(PY_PEER)

# The chaos soak (tests/soak, about an hour): mixed traffic while workers are killed, Redis is
# restarted (AOF) and the network goes bad; checks from a ledger outside Redis. Writes
# bench/results/soak-<date>.json and the table in docs/production.md. `make test` runs a
# 3-minute version. SOAK_ARGS, e.g. `--minutes 15 --interval 20`.
soak: $(STAMP)
	PYTHONPATH=$(CURDIR) $(PY) -m tests.soak.run --minutes 60 --docs $(SOAK_ARGS)

# The long versions of the reliability suite (tests/reliability): 10,000 jobs through SIGKILLed
# workers, 30 s Redis outages, more random-operation seeds.
.PHONY: soak-reliability
soak-reliability: $(STAMP)
	QC_SOAK=1 $(VENV)/bin/pytest tests/reliability -p no:cacheprovider --timeout=1800 $(PYTEST_ARGS)

# Issue 8's benchmark (bench/README.md): queuecore against Node bullmq, Python bullmq, RQ and
# arq on a private redis-server. Sets up its own bench-only venvs and Node deps first.
# `make bench` writes bench/results/<date>.json and the table in docs/performance.md;
# `make bench-quick` (1 round, small N) only writes bench/results/<date>-quick.json.
.PHONY: bench-quick
bench:
	bash bench/setup.sh
	bench/.venv/bin/python -m bench.run $(BENCH_ARGS)

bench-quick:
	bash bench/setup.sh
	bench/.venv/bin/python -m bench.run --quick $(BENCH_ARGS)

# Live dashboard: event-to-screen latency and daphne CPU (bench/results/live-<date>.json).
.PHONY: bench-live
bench-live: $(STAMP)
	$(PY) bench/live_dashboard.py

# The live dashboard under abuse: 500 sockets held 10 minutes (slow readers, a flooder, a user
# over the socket cap), daphne's RSS and CPU sampled (bench/results/live-abuse-<date>.json).
.PHONY: bench-live-abuse
bench-live-abuse: $(STAMP)
	$(PY) bench/live_abuse.py $(BENCH_ARGS)

# Dashboard speed at 1.1M jobs (issue 5): server time and Redis commands of every list and
# read page on a private redis-server (bench/results/dashboard-<date>.json).
.PHONY: bench-dashboard
bench-dashboard: $(STAMP)
	$(PY) bench/dashboard_speed.py $(BENCH_ARGS)

# The screenshots in docs/screenshots/ (docs/dashboard.md, "Look and themes"), taken by the
# look test on the hostile data set in both themes.
.PHONY: screenshots
screenshots: $(STAMP)
	QD_UPDATE_SCREENSHOTS=1 PYTHONPATH=$(CURDIR) $(VENV)/bin/pytest -q -p no:cacheprovider tests/dashboard/test_look_browser.py -k screenshots

# The overview at 1,000 queues on one connection (issue 15): server time of the page, sorted,
# filtered and paginated, on a private redis-server (bench/results/overview-<date>.json).
.PHONY: bench-overview
bench-overview: $(STAMP)
	PYTHONPATH=$(CURDIR) $(PY) bench/overview_scale.py $(BENCH_ARGS)

# Issue 16's triage figures: failure groups and a bulk retry at 100,000 failed jobs on a
# private redis-server (bench/bulk_scale.py); writes bench/results/bulk-<date>.json.
.PHONY: bench-bulk
bench-bulk: $(STAMP)
	$(PY) bench/bulk_scale.py $(BENCH_ARGS)

# Issue 16's search figures at 1,000,000 completed and 100,000 failed jobs (bench/search_scale.py).
.PHONY: bench-search
bench-search: $(STAMP)
	$(PY) bench/search_scale.py $(BENCH_ARGS)

# Scale-out: the S3 load over 3 queues on a local 3-master Redis Cluster against one
# redis-server (bench/results/cluster-<date>.json). BENCH_ARGS, e.g. `--jobs 9000 --rounds 1`.
.PHONY: bench-cluster
bench-cluster: $(STAMP)
	$(PY) bench/cluster.py $(BENCH_ARGS)
