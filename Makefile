# The two commands: `make demo` and `make test`. Both install what they need first.
.PHONY: setup demo test lint stop bench images clean

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

# The two images, with podman and a local Debian base image (scripts/container-base.sh);
# tests/test_containers.py builds and runs them the same way.
images:
	bash scripts/container-base.sh
	podman build --network host --format docker --secret id=cacerts,src=/etc/ssl/certs/ca-certificates.crt \
		-t localhost/idm-slapd:latest -f docker/slapd/Dockerfile .
	podman build --network host --format docker --secret id=cacerts,src=/etc/ssl/certs/ca-certificates.crt \
		-t localhost/idm-webui:latest -f docker/webui/Dockerfile .

clean: stop
	rm -rf var/idm
