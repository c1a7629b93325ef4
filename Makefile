PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
INDEX ?= index

.PHONY: run test install install-test reindex bench-extract bench-relevance bench-speed clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: setup.cfg $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: setup.cfg $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: setup.cfg $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-test

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

reindex: install
	$(BIN)/searchsvc reindex --index $(INDEX)

run: reindex
	$(BIN)/searchsvc serve --index $(INDEX) --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench-extract: $(VENV)/.installed-bench
	$(BIN)/python bench/extract.py

bench-relevance: $(VENV)/.installed-bench
	$(BIN)/python bench/relevance.py

bench-speed: $(VENV)/.installed-bench
	$(BIN)/python bench/speed.py

clean:
	rm -rf $(VENV) build .pytest_cache
