# The two commands that matter: `make lab` installs what the notebooks and the demo page need and starts JupyterLab,
# `make test` adds the test tools and a browser and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAB_STAMP := $(VENV)/.installed-lab
STAMP := $(VENV)/.installed
# JupyterLab refuses to run as root (containers, cloud VMs) without --allow-root; a user does not need it.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: setup lab test check notebooks benchmark app screenshots clean

setup: $(STAMP)

# The learner's install: the notebooks and the demo page (.[lab,app]), no test tools, no browser.
$(LAB_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lab,app]"
	touch $(LAB_STAMP)

# The developer's install: the learner's, the test tools and a browser.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lab,test,app]"
	$(BIN)/python tests/browser.py  # a Chromium for the browser tests: Playwright's, the system's, or apt-get's
	touch $(LAB_STAMP) $(STAMP)

lab: $(LAB_STAMP)
	$(BIN)/python -m jupyter lab $(ALLOW_ROOT) notebooks/

test: setup
	IMAGE_SEARCH_OFFLINE=1 $(BIN)/python -m pytest tests notebooks --nbval-lax --durations=25

# The loop to run after each change: everything but the browser, server, wheel, notebook-execution, cli and slow
# tiers (markers set in tests/conftest.py).
check: setup
	IMAGE_SEARCH_OFFLINE=1 $(BIN)/python -m pytest tests \
		-m "not browser and not server and not wheel and not notebook and not cli and not slow" \
		--durations=10

notebooks: setup
	mkdir -p notebooks/_executed
	cd notebooks && ../$(BIN)/jupyter nbconvert --to notebook --execute --output-dir _executed \
		--ExecutePreprocessor.timeout=1800 *.ipynb

benchmark: setup
	$(BIN)/python benchmarks/embedding.py
	$(BIN)/python benchmarks/scale.py --quick
	$(BIN)/python benchmarks/app_load.py
	$(BIN)/python benchmarks/import_order.py
	$(BIN)/python benchmarks/notebook_times.py  # Run All per notebook, extrapolated: about 2.5 minutes on 2 quiet cores

# The demo page over notebook 01's collection (run the notebook first; its kernel must be stopped, since a
# Milvus Lite file is open in one process at a time). APP_DB / APP_COLLECTION pick another one.
APP_DB ?= notebooks/milvus_reverse_image_search.db
APP_COLLECTION ?= image_embeddings
app: $(LAB_STAMP)
	$(BIN)/python -m helpers app --db $(APP_DB) --collection $(APP_COLLECTION)

screenshots: setup
	PYTHONPATH=tests:benchmarks IMAGE_SEARCH_OFFLINE=1 $(BIN)/python docs/screenshots.py screenshots
	SCREENSHOTS=screenshots IMAGE_SEARCH_OFFLINE=1 $(BIN)/python -m pytest -q tests/test_jupyterlab.py

clean:
	rm -rf notebooks/_executed notebooks/*.db .pytest_cache screenshots
