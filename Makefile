# ClinPhoto — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PWA_SOURCES := $(shell find pwa/src pwa/index.html pwa/vite.config.ts pwa/public -type f 2>/dev/null) $(wildcard schemas/*.json)

.PHONY: run test test-python test-pwa deps bench venv pwa clean

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

pwa/node_modules/.installed: pwa/package.json pwa/package-lock.json
	cd pwa && npm ci --no-audit --no-fund
	touch $@

pwa/dist/index.html: pwa/node_modules/.installed $(PWA_SOURCES)
	cd pwa && npm run build

pwa: $(if $(wildcard pwa/package.json),pwa/dist/index.html,)

run: venv pwa
	$(BIN)/clinphoto serve

# What the tests need from Debian (Chromium, Orthanc, PostgreSQL, nginx, ...): installed when run
# as root, otherwise the exact apt-get command is printed. Instant when everything is there.
deps:
	@[ -n "$(DEPS_CHECKED)" ] || scripts/test-deps.sh

test: deps
	@$(MAKE) --no-print-directory test-python test-pwa DEPS_CHECKED=1

# deps first even under -j: the venv and the app's build need python3-venv and npm
test-python: deps
	@$(MAKE) --no-print-directory venv pwa
	$(BIN)/pytest -q

test-pwa: deps
	@$(MAKE) --no-print-directory venv pwa
	@if [ -f pwa/package.json ]; then cd pwa && npm run lint && npm test && npm run e2e; fi

bench: venv pwa
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.audit
	$(BIN)/python -m bench.backlog
	$(BIN)/python -m bench.year
	$(BIN)/python -m bench.year --ward 3
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.powerloss --cuts 200
	@if [ -f pwa/package.json ]; then cd pwa && npm run bench; fi

clean:
	rm -rf $(VENV) pwa/node_modules pwa/dist
