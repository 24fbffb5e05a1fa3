# genai-platform. `make run` starts the platform; `make test` runs the suite. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Reinstall only when requirements.txt changes.
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt 2>/dev/null | cut -c1-16)

.PHONY: setup run test lint bench weights messages clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)
	@$(PY) -m genai_platform.setup

run: setup
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py demo_data
	exec $(PY) manage.py run_platform --port $(PORT)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Each benchmark runs on a scratch database of its own (benchmarks/run.py); the configured one is never touched.
bench: setup
	DJANGO_LOG_LEVEL=$${DJANGO_LOG_LEVEL:-WARNING} $(PY) benchmarks/run.py $(BENCH_ARGS)

# Retrain the bundled nets from generation/weights/recipe.json and write their files and manifest.
weights: setup
	$(PY) -m generation.ml.weights build

# Regenerate the message catalogues after changing translatable strings.
# Each app's catalogue is made from inside the app (references relative to it); genai_platform's goes to locale/.
messages: setup
	for app in audit filing generation genai_platform; do (cd $$app && ../$(PY) ../manage.py makemessages -l zh_Hans) || exit 1; done
	$(PY) manage.py compilemessages --ignore '.venv/*'

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
