# The two commands: `make demo` and `make test`. Both install what they need first.
.PHONY: setup demo test lint stop bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh

test: setup lint
	.venv/bin/pytest -q

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy

stop:
	-.venv/bin/idm web stop
	.venv/bin/idm server stop

bench: setup
	.venv/bin/python benches/bind_search.py

clean: stop
	rm -rf var/idm
