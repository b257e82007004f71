# Two entry points for a fresh machine: `make run` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED_DATA := ../shared/data/data_to_be_cleansed.csv
# Your own labelled CSV: `make run DATA=posts.csv TRAIN_ARGS="--text-col body --label-col label"`
# trains on it into models-posts/ (once; `make train` with the same variables retrains) and opens
# the app on that folder.
DATA ?=
TRAIN_ARGS ?=
ifneq ($(DATA),)
MHX_DATA := $(DATA)
MHX_MODELS_DIR := models-$(basename $(notdir $(DATA)))
endif
MHX_DATA ?= $(firstword $(wildcard data/data_to_be_cleansed.csv $(SHARED_DATA)))
MHX_MODELS_DIR ?= models
export MHX_MODELS_DIR
# Offline machines keep NLTK data beside the project; elsewhere NLTK's downloader fetches it.
ifneq ($(wildcard ../shared/nltk_data),)
export NLTK_DATA ?= $(abspath ../shared/nltk_data)
endif

# torch: machines without an NVIDIA GPU get PyTorch's CPU wheel (about 200 MB instead of several
# GB of CUDA libraries). Override with `make run TORCH_INDEX=` (PyPI's default build) or any index URL.
HAS_NVIDIA := $(shell command -v nvidia-smi 2>/dev/null)
TORCH_INDEX ?= $(if $(HAS_NVIDIA),,https://download.pytorch.org/whl/cpu)
# (one retry: where that index cannot be reached, pip goes on with the other sources it knows at once)
TORCH_FROM := $(if $(TORCH_INDEX),--retries 1 --index-url $(TORCH_INDEX),)

.PHONY: run test test-fast setup setup-dev train bench clean

$(BIN)/.installed: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0 $(TORCH_FROM)
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

setup: $(BIN)/.installed
setup-dev: $(BIN)/.installed-dev

# Trains the classical models once if data is there and no models are, then opens the app.
# Serves on localhost only (.streamlit/config.toml), so training from the browser is allowed here.
run: setup
	@if [ -n "$(MHX_DATA)" ] && [ ! -d "$(firstword $(subst :, ,$(MHX_MODELS_DIR)))/lr" ]; then \
	  $(BIN)/python -m train --data "$(MHX_DATA)" --models nb,lr $(TRAIN_ARGS); fi
	MHX_ALLOW_TRAINING=1 $(BIN)/streamlit run app.py

train: setup
	$(BIN)/python -m train --data "$(MHX_DATA)" --models nb,lr $(TRAIN_ARGS)

test: setup-dev
	$(BIN)/python -m pytest

# Everyday work: the tests not marked slow (no BERT fine-tuning, browser or real dataset), under 2 minutes.
test-fast: setup-dev
	$(BIN)/python -m pytest -m "not slow"

bench: setup-dev
	$(BIN)/python bench/train_classical.py

clean:
	rm -rf $(VENV) .pytest_cache
