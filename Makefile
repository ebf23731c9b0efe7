# WorkRight: two commands do all the set-up on a fresh machine.
#
#   make run    create .venv, install, build the search index if the sources changed, and
#               serve the web chat on http://127.0.0.1:8080/
#   make test   the same install with the test extras, the system packages tests need
#               (PostgreSQL, Chromium), the Rasa backend, then the whole test suite
#
# Everything slow is cached by content hash: the index under var/index/<hash>, the builtin
# intent model under var/nlu/<hash>, the Rasa model under var/rasa/models/<hash>.

PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
PIP      := $(BIN)/python -m pip --disable-pip-version-check
HOST     ?= 127.0.0.1
PORT     ?= 8080
PYTEST_ARGS ?=

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RASA_TELEMETRY_ENABLED := false

.PHONY: run test install install-dev index lint typecheck system-deps clean help

help:
	@sed -n '2,9p' Makefile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes (its hash is the stamp's name).
install: $(BIN)/python
	@stamp="$(VENV)/.install-$$(sha256sum pyproject.toml | cut -c1-16)"; \
	if [ ! -f "$$stamp" ]; then \
		echo "installing workright into $(VENV) ..."; \
		$(PIP) install --quiet -e . && touch "$$stamp"; \
	fi

# torch first, pinned to the CPU build on this machine, or the sentence-transformers extra
# would pull a CUDA build of several gigabytes.
install-dev: install
	@stamp="$(VENV)/.install-dev-$$(sha256sum pyproject.toml | cut -c1-16)"; \
	if [ ! -f "$$stamp" ]; then \
		echo "installing test extras into $(VENV) ..."; \
		$(PIP) install --quiet torch==2.13.0 && \
		$(PIP) install --quiet -e '.[dev,postgres,st]' && touch "$$stamp"; \
	fi

index: install
	$(BIN)/workright kb build

run: install index
	$(BIN)/workright serve --host $(HOST) --port $(PORT)

# Debian packages some tests need, installed only when missing.
system-deps:
	@missing=""; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| missing="$$missing postgresql"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || missing="$$missing fonts-wqy-zenhei"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq $$missing; \
	fi

test: install-dev system-deps index rasa
	$(BIN)/ruff check .
	$(BIN)/mypy bot nlu knowledge_base grievance
	@pg_url="$${TEST_DATABASE_URL:-$$(scripts/pg-test-server.sh)}"; \
	echo "PostgreSQL for tests: $$pg_url"; \
	TEST_DATABASE_URL="$$pg_url" $(BIN)/python -m pytest $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check .

typecheck:
	$(BIN)/mypy bot nlu knowledge_base grievance

clean:
	rm -rf var/index var/nlu

include mk/rasa.mk

# The Rasa launcher runs on the project's interpreter (it needs httpx).
rasa-venv: install
