# Every target builds what it needs from the project's own files.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo run bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python -m compileall -q pipeline
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Formatting, lint and a strict type check of the package.
lint: $(STAMP)
	$(BIN)/ruff format --check pipeline
	$(BIN)/ruff check pipeline
	$(BIN)/mypy

# Serves the bundled snapshot on 127.0.0.1, crawls it with the real config, stops the server.
demo: $(STAMP)
	@mkdir -p data && rm -f data/demo.db data/demo.db-wal data/demo.db-shm
	@$(BIN)/python tests/siteserver.py tests/fixtures/site --port 0 > data/.demo-server.log & \
	server=$$!; trap 'kill $$server 2>/dev/null' EXIT; \
	for _ in $$(seq 50); do grep -q serving data/.demo-server.log && break; sleep 0.1; done; \
	url=$$(sed -n 's/.* on //p' data/.demo-server.log); \
	echo "serving tests/fixtures/site on $$url"; \
	$(BIN)/pipeline crawl --config config/parispeaceforum.toml --db data/demo.db \
		--base-url "$$url" --min-delay 0 && \
	$(BIN)/pipeline show --db data/demo.db

run: $(STAMP)
	$(BIN)/pipeline crawl --config config/parispeaceforum.toml --db data/projects.db

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) data/demo.db
