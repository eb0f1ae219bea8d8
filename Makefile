# promptkiln — developer and CI entry points. `make test` works on a fresh Debian/Ubuntu machine
# (as root it installs and starts Docker itself) and is fast the second time: every step is
# idempotent and cached (.venv, the engine, the debootstrap base and the wheelhouse under
# ~/.cache/promptkiln, the image itself, which is rebuilt only when images/ changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := dev,e2b,local,postgres,server,validate,anthropic,openai,gemini
# CI also registers gVisor so the runsc tests run; on a laptop: make engine ENGINE_FLAGS=--gvisor
ENGINE_FLAGS ?= --debootstrap $(if $(CI),--gvisor,)
PYTEST_ARGS ?=
DEMO_PROMPT ?= Bar chart of quarterly revenue: Q1=2.1M, Q2=2.8M, Q3=3.2M, Q4=3.9M

.PHONY: install engine image postgres browser e2b-js test lint bench bench-server eval demo fuzz faults bench-model

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@if ! [ -x $(BIN)/python ]; then \
	    $(PYTHON) -m venv $(VENV) || { \
	        [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && \
	        rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }; \
	fi
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[$(EXTRAS)]'
	@touch $@

engine:
	scripts/ensure-docker.sh $(ENGINE_FLAGS)

image: install engine
	$(BIN)/python -m promptkiln.image

# The PostgreSQL server binaries the suite starts its own PostgreSQL with (installed as root if missing).
postgres:
	scripts/ensure-postgres.sh

test: install engine image postgres browser e2b-js
	E2B_JS_MODULES="$${E2B_JS_MODULES:-$(E2B_JS)/node_modules}" $(BIN)/pytest $(PYTEST_ARGS)

# The E2B JS SDKs' test needs node and the SDKs from npm: installed once under .cache/ when npm
# is here (the registry is the only network it uses); without them that one test skips.
E2B_JS := $(CURDIR)/.cache/e2b-js
e2b-js:
	@command -v npm >/dev/null || { echo "no npm: the E2B JS SDK test will skip"; exit 0; }; \
	[ -d $(E2B_JS)/node_modules/@e2b/code-interpreter ] || \
	    npm install --silent --no-audit --no-fund --prefix $(E2B_JS) \
	        e2b@2.51.0 @e2b/code-interpreter@2.8.0 >/dev/null 2>&1 || \
	    echo "npm install failed: the E2B JS SDK test will skip"

# The web page's browser test drives the system Chromium; as root, install it when missing.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	    [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	    || echo "no chromium: the browser test will skip (CI=true makes it fail)"; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	scripts/typecheck.sh
	scripts/lint-imports.sh  # lint-imports: the layers and no cycles ([tool.importlinter])

bench: install engine image
	$(BIN)/python benchmarks/bench_sandbox.py

bench-server: install engine image postgres
	$(BIN)/python benchmarks/bench_server.py

# The bundled model's speed: llama-bench (built once from source, ~30 min on 2 cores) next to the
# server, prompt tokens reused on a repair, a new request and after a restart; ends with JSON.
BENCH_MODEL_ARGS ?=
bench-model: install engine image
	$(BIN)/python benchmarks/bench_model.py $(BENCH_MODEL_ARGS)

# The API fuzz run at length: Schemathesis against /openapi.json (tests/e2e/server/test_server_fuzz.py,
# which `make test` runs with 3 examples per operation), FUZZ_EXAMPLES per operation, summary printed.
FUZZ_EXAMPLES ?= 50
fuzz: install engine image postgres
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/e2e/server/test_server_fuzz.py -q -s -o timeout=3600

# Faults under load (benchmarks/bench_faults.py): 50 run jobs from 5 tenants on 2 replicas over one
# PostgreSQL while a replica is kill -9ed, PostgreSQL restarts, a private Docker engine restarts and the
# data directory's own tmpfs fills up; prints the fault table. FAULTS_ARGS="--faults kill9,postgres"
FAULTS_ARGS ?=
faults: install engine image postgres
	$(BIN)/python benchmarks/bench_faults.py $(FAULTS_ARGS)

# The output-quality evaluation (benchmarks/quality/): 102 tasks in a dev and a holdout split,
# 2-4 h on 2 cores with the bundled model; EVAL_ARGS="--split holdout" runs one split.
# make eval EVAL_ARGS="--model openai/m --api-base http://host:8000/v1 --category pdf"
EVAL_ARGS ?=
eval: install engine image
	$(BIN)/python benchmarks/quality/run.py $(EVAL_ARGS)

demo: install engine image
	$(BIN)/promptkiln make "$(DEMO_PROMPT)" -f png -o out/
