# `make run`: install, train a default model for every task, serve on :8000.
# `make test`: install, check import contracts, run the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PLUGINS = $(wildcard plugins/*)
STAMP   = $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint browser docs benchmark peers clean

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml) Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[torch,tensorflow,onnx,ray,grpc,dev,postgres]' $(foreach p,$(PLUGINS),-e '$(p)[all]')
	touch $(STAMP)

install: $(STAMP)

run: install docs
	$(BIN)/aiaas quickstart
	$(BIN)/aiaas serve --host $(HOST) --port $(PORT)

# The docs site (MkDocs, Material theme), built offline into the console's folder: `aiaas serve` serves it at /console/docs/.
# Its generated pages are committed, and tests fail when they are stale: `aiaas plugin reference --out
# docs/plugin-reference.md`, and `sed 's|](docs/|](|g' README.md > docs/index.md` (the home page is the README).
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet

lint: install
	$(BIN)/ruff check core plugins tests benchmarks
	$(BIN)/lint-imports

test: lint browser docs
	$(BIN)/python -m pytest

# The console's tests drive Debian's chromium (Playwright never downloads a browser); where apt cannot
# install it, those tests skip and say why.
browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: chromium could not be installed; the console's browser tests will be skipped" >&2

# The serving peers aiaas is measured beside (serving_throughput.py), in a venv of their own so their pins never touch aiaas's.
PEERS = .peers
$(PEERS)/.installed:
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet torch safetensors litserve bentoml 'ray[serve]' uvloop httptools
	touch $(PEERS)/.installed

peers: $(PEERS)/.installed

benchmark: install peers
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/serving_throughput.py --columns 30,300 --workers-scaling
	$(BIN)/python benchmarks/healthcare_real.py
	$(BIN)/python benchmarks/retail_real.py
	$(BIN)/python benchmarks/education_real.py
	$(BIN)/python benchmarks/overload.py
	$(BIN)/python benchmarks/rollout.py
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/ood.py
	$(BIN)/python benchmarks/optimize.py
	$(BIN)/python benchmarks/ray_scaling.py
	$(BIN)/python benchmarks/scale_out.py --rows 2000000 --subsample 500000 --max-memory 300MB --epochs 2
	$(BIN)/python benchmarks/console.py

clean:
	rm -rf $(VENV) .aiaas
