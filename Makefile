# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's metadata changed.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: migrate the database, print the first-owner link, serve on http://127.0.0.1:5000
run: $(STAMP)
	CRM_ENV=development $(BIN)/crm run --host 127.0.0.1 --port 5000

## test: the whole suite (browser tests need /usr/bin/chromium)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## translations: re-extract strings and update/compile the Swedish catalogue
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -o crm/translations/messages.pot crm templates
	$(BIN)/pybabel update -i crm/translations/messages.pot -d crm/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d crm/translations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
