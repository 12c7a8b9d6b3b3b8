# Two commands do all the set-up on a fresh Debian machine with Python 3.11:
#   make run    install into .venv, prepare the SQLite database with demo data, serve on 127.0.0.1
#   make test   install what the tests need (Debian's chromium and PostgreSQL included) and run them

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-sqlite test-postgres install install-dev translations content-catalogues fonts pdf-tools i18n-extract i18n-update browser page-checks postgres wrk validate lint bench bench-pages bench-calls bench-pdf load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install translations fonts
	$(BIN)/dd-toolkit init-db
	$(BIN)/dd-toolkit load-demo
	$(BIN)/dd-toolkit run --port $(PORT)

# Interface catalogues, Flask-Babel's workflow: `make i18n-update` extracts the marked strings into
# messages.pot and merges them into each language's messages.po (new strings arrive untranslated,
# never guessed, and tests/test_language.py fails until they are translated); `make translations`
# compiles the .mo files the app reads (not kept in git).
TRANSLATIONS := dd_toolkit/web/translations
i18n-extract: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _l -k lazy_gettext --no-location --sort-output \
		--project dd-toolkit -o $(TRANSLATIONS)/messages.pot .

i18n-update: i18n-extract
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching \
		--ignore-obsolete --width 120

translations: install
	$(BIN)/pybabel compile -d $(TRANSLATIONS)

# Content catalogues (questionnaires/, scoring/ and reports/ translations/<language>/*.po), keyed by
# the English they translate: new texts arrive empty, changed ones as fuzzy suggestions, and the
# text is shown in English, marked, until a translator has looked at it.
content-catalogues: install
	$(BIN)/dd-toolkit content-catalogues

# Fonts for the pages, charts and PDFs, from Debian's packages; Typst embeds them in the PDFs.
# DejaVu has the Latin and Vietnamese letters, TLWG the Thai ones; the others draw the names and
# texts a company may write in the region's other scripts (Khmer, Lao, Myanmar, Tamil, Chinese),
# which a PDF would otherwise print as "�".
FONT_PACKAGES := fonts-dejavu-core fonts-thai-tlwg fonts-khmeros fonts-lao fonts-sil-padauk fonts-lohit-taml fonts-wqy-microhei
fonts:
	@dpkg -s $(FONT_PACKAGES) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(FONT_PACKAGES); }

# Debian's Chromium drives the browser tests; Playwright never downloads a browser.
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# The page checks of tests/test_pages_checked.py: axe-core (injected into Chromium) and the Nu HTML
# checker (vnu.jar, run with Debian's Java), from the npm registry at the versions of
# tests/node/package-lock.json; their install scripts are not run (vnu.jar is in the package).
page-checks: browser
	@{ command -v java >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq default-jre-headless npm; }
	@[ tests/node/node_modules/.package-lock.json -nt tests/node/package-lock.json ] || npm ci --prefix tests/node --ignore-scripts --no-audit --no-fund --silent

# Poppler's pdftotext: the tests read a PDF's text as a reader copies it (pypdf ignores the
# ActualText that keeps a Thai cluster's letters).
pdf-tools:
	@command -v pdftotext >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq poppler-utils; }

# The PostgreSQL server binaries, for running the suite against a real PostgreSQL.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql; }

# The two phases run side by side, one core each; each one's output is printed when it ends.
# The walks of every page (marked `walk`, on SQLite) run after the PostgreSQL phase, the shorter
# one, so that both end at about the same time; `pytest` alone runs everything on SQLite.
test: install-dev browser page-checks postgres fonts pdf-tools validate
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

validate: install
	$(BIN)/dd-toolkit validate-content
	$(BIN)/dd-toolkit content-catalogues --check

test-sqlite: install-dev translations
	$(BIN)/python -m pytest -m "not walk" --durations=15

# The database-facing tests again, on a throw-away PostgreSQL cluster on loopback; then the walks.
test-postgres: install-dev postgres translations
	tests/with_postgres.sh $(BIN)/python -m pytest -m "not browser" -q -p no:cacheprovider --durations=15
	$(BIN)/python -m pytest -m walk -q -p no:cacheprovider

# Debian's wrk, the HTTP load generator of the page benchmark.
wrk:
	@command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; }

# Engine speed on 10,000 generated assessments (scoring, then the anonymised benchmark),
# after the page benchmark.
bench: install bench-pages
	$(BIN)/python -m tests.perf.benchmark_engine

# A fresh (uncached) action-plan PDF of the demo company, next to its HTML, on a throw-away
# instance with the demo data. Options, for example:
#   make bench-pdf BENCH_PDF_ARGS="--repeat 3 --profile"
BENCH_PDF_ARGS ?=
bench-pdf: install-dev
	$(BIN)/python -m tests.perf.benchmark_pdf $(BENCH_PDF_ARGS)

# The Python function calls one request of each page makes, next to the bare Flask page: exact,
# so a change can be judged on a busy machine before bench-pages measures it under load.
#   make bench-calls BENCH_CALLS_ARGS="--instance FOLDER --database URL"
BENCH_CALLS_ARGS ?=
bench-calls: install
	$(BIN)/python -m tests.perf.benchmark_calls $(BENCH_CALLS_ARGS)

# Page speed: the app under gunicorn (2 workers) against a bare Flask page, measured with wrk on
# 127.0.0.1, for 0, 1,000 and 10,000 generated companies. Options, for example:
#   make bench-pages BENCH_PAGES_ARGS="--companies 0 --duration 3"
# or, on an instance an earlier run or `dd-toolkit load-demo --companies N` prepared:
#   make bench-pages BENCH_PAGES_ARGS="--instance FOLDER --database sqlite:///FOLDER/file.sqlite"
BENCH_PAGES_ARGS ?=
bench-pages: install wrk
	$(BIN)/python -m tests.perf.benchmark_pages $(BENCH_PAGES_ARGS)

# Load with nothing lost (tests/perf/load.py): 50 people in pairs save the same sections, submit
# and read results for 2 minutes against gunicorn with 4 workers on 127.0.0.1, first on SQLite,
# then on a throw-away PostgreSQL; afterwards every answer they were told was saved is checked in
# the database, with its history. Fails on a lost or silently overwritten answer, a 5xx, or a p95
# of 300 ms or more. The abuse limits are off for that server. Options, for example:
#   make load LOAD_ARGS="--users 20 --duration 30"
LOAD_ARGS ?=
load: install postgres
	@rc=0; \
	$(BIN)/python -m tests.perf.load --database sqlite $(LOAD_ARGS) || rc=1; \
	tests/with_postgres.sh $(BIN)/python -m tests.perf.load --database postgres $(LOAD_ARGS) || rc=1; \
	exit $$rc

lint: install-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache
