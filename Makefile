# Two entry points (see README): `make demo` and `make test`.
SHELL := /bin/bash
SHARED_DATA := $(abspath ../shared/data)
EDGEKIT_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
export EDGEKIT_DATA
# Two workers (the suite's files split between them, the slow ones first, see
# tests/conftest.py); PYTEST_ARGS="-n 0" runs in one process.
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: setup demo test clean

setup:
	./scripts/setup.sh

demo: setup
	.venv/bin/edgekit build --target cortex-m --out build

test: setup
	.venv/bin/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf build .pytest_cache
