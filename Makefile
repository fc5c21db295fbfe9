# Set-up and everyday commands. `make demo` and `make test` each create the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv demo run test check lint bench clean

$(BIN)/guidegate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/guidegate  ## Create .venv and install Guidegate with its test tools.

demo: venv  ## Run the bundled legacy demo app with Guidegate in front of it.
	$(BIN)/guidegate demo

run: venv  ## Run the proxy with config.yaml.
	$(BIN)/guidegate run --config config.yaml

test: venv  ## Run every test, including the real-browser and PostgreSQL ones.
	$(BIN)/pytest

check: venv  ## Validate config.yaml and its rule files.
	$(BIN)/guidegate check --config config.yaml

lint: venv  ## Type-check the package.
	$(BIN)/mypy proxy

bench: venv  ## Run the benchmarks and rewrite docs/BENCHMARKS.md.
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .hypothesis
