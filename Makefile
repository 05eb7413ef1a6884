# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Nu HTML Checker for tests/test_page_quality.py, from npm's vnu-jar (needs a Java runtime).
VNU_VERSION := 26.9.27
VNU_JAR := $(VENV)/vnu/node_modules/vnu-jar/build/dist/vnu.jar

.PHONY: run test lint translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's metadata changed.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: migrate the database, print the first-owner link, serve on http://127.0.0.1:$(PORT)
PORT ?= 5000
run: $(STAMP)
	CRM_ENV=development $(BIN)/crm run --host 127.0.0.1 --port $(PORT)

# Installed when npm is there; without it the HTML-checker test is skipped and says why.
$(VNU_JAR): | $(BIN)/python
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --prefix $(VENV)/vnu vnu-jar@$(VNU_VERSION); \
	else echo "make: npm not found; the Nu HTML checker test will be skipped"; fi

## test: the whole suite (browser tests need /usr/bin/chromium; the HTML checker Java and npm)
test: $(STAMP) $(VNU_JAR)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

## lint: ruff, ruff format, mypy and the dependency rules of ARCHITECTURE.md section 2
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

## translations: re-extract strings and update/compile the Swedish catalogue
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -o crm/translations/messages.pot crm templates
	$(BIN)/pybabel update -i crm/translations/messages.pot -d crm/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d crm/translations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
