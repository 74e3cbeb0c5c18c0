# The entry points a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test build check bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## run: set up .venv, build the editorial store from data/ if needed, publish a release, serve http://localhost:8501
run: $(STAMP)
	$(PY) -m kb build --if-needed
	$(PY) -m streamlit run app.py --server.port 8501 --server.address localhost --server.headless true

## test: set up .venv and run the whole suite (unit, data integrity, AppTest, browser) on two workers; a test file
## stays on one worker (its servers and browser are started once), `pytest tests/x.py` alone runs in one process
test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

## build: rebuild the editorial store from data/, keeping every accepted edit not yet exported; publish
build: $(STAMP)
	$(PY) -m kb build

## check: validate data/ without building
check: $(STAMP)
	$(PY) -m kb check

## bench: page rerun times, search latency (10^5 and 10^6 references), accept -> visible on three reader processes
bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache releases-out
