# Two commands on a fresh clone: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   ?= .venv
# Browser tests drive Debian's Chromium (Playwright cannot download browsers here).
CHROMIUM = /usr/bin/chromium
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

export XUNCHA_INSTANCE_DIR ?= $(CURDIR)/instance

.PHONY: install assets fonts browser run test lint typecheck unit bench bench-queues bench-timers bench-load clean

# Front-end bundles (bpmn-js, ECharts) from the npm registry, built into web/static/build and served
# by the app itself: no CDN. Rebuilt when the lock file, the build script or a source file changes.
FRONTEND = web/frontend
ASSETS   = web/static/build/.built

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP) $(ASSETS) fonts

$(ASSETS): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json $(FRONTEND)/build.mjs $(wildcard $(FRONTEND)/src/*)
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	mkdir -p $(dir $(ASSETS)) && touch $(ASSETS)

assets: $(ASSETS)

# Chinese TrueType faces the PDF reports are set in (宋体-like AR PL UMing, 黑体-like WenQuanYi Zen Hei).
CJK_FONTS = /usr/share/fonts/truetype/arphic/uming.ttc /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
fonts:
	@ls $(CJK_FONTS) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-arphic-uming fonts-wqy-zenhei >/dev/null; }

browser:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

## Start web + scheduler on SQLite with demo data at http://127.0.0.1:5000
run: install
	$(BIN)/xuncha db upgrade
	$(BIN)/xuncha demo-data
	$(BIN)/xuncha run --host 127.0.0.1 --port 5000

## Lint, type-check and run every test (PostgreSQL too when reachable or TEST_DATABASE_URL is set)
test: install browser lint typecheck unit

lint: install
	$(BIN)/ruff check engine models web tests bench migrations/env.py

typecheck: install
	$(BIN)/mypy engine models

unit: install browser
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench.engine_steps $(if $(DATABASE_URL),--database-url $(DATABASE_URL),)

## Queue queries at 1,000,000 task rows on PostgreSQL (DATABASE_URL, else TEST_DATABASE_URL, else the local server)
bench-queues: install
	$(BIN)/python -m bench.queue_query $(if $(DATABASE_URL),--database-url $(DATABASE_URL),)

## Claim + complete + queue reads over HTTP on gunicorn + PostgreSQL (DATABASE_URL as above)
bench-load: install
	$(BIN)/python -m bench.load $(if $(DATABASE_URL),--database-url $(DATABASE_URL),)

## 10,000 timers due in one minute, two scheduler processes: lateness, double-fired, lost (PostgreSQL as above)
bench-timers: install
	$(BIN)/python -m bench.timer_lateness $(if $(DATABASE_URL),--database-url $(DATABASE_URL),)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache web/static/build $(FRONTEND)/node_modules
