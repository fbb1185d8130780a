# The README's two commands: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint check-deploy clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check '.[test]'
	touch $@

## make run: migrate, seed the Genesys simulator, sync it, create an admin user, start web + worker.
run: $(INSTALLED)
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py run_portal

## make test: the whole pytest suite (SQLite unless DATABASE_URL is set). No test collected = failure.
test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make check-deploy: the deploy checks on production settings, with throwaway credentials (the
## portal warns when Genesys or ingest credentials are missing, which is not what this checks).
check-deploy: $(INSTALLED)
	DEBUG=false SECRET_KEY=$$(head -c 48 /dev/urandom | base64) ALLOWED_HOSTS=portal.example.com \
		GENESYS_REGION=eu_west_1 GENESYS_CLIENT_ID=check-deploy \
		GENESYS_CLIENT_SECRET=$$(head -c 24 /dev/urandom | base64) \
		INGEST_SECRETS=$$(head -c 24 /dev/urandom | base64) \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
