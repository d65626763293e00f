# `make run` and `make test` work on a fresh machine with only Python, pip and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv run test bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: venv
	$(BIN)/parawatt testnet up --fresh --demo

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/parawatt bench chain

clean:
	rm -rf $(VENV) build *.egg-info
