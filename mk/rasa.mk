# The Rasa backend of the intent classifier (included by the top-level Makefile).
#
#   make rasa        create .rasa-venv (Python 3.10, exact pins), train the NLU model into
#                    var/rasa/models/<content hash>.tar.gz unless it is already there
#   make rasa-serve  serve that model on 127.0.0.1:$(RASA_PORT) (needs RASA_AUTH_TOKEN)
#   make rasa-clean  remove the venv and the cached models
#
# Both steps are idempotent: the venv is reinstalled only when nlu/rasa/requirements.txt
# changes (its hash is kept in a stamp file), and the model is named after a hash of the
# training data, the pipeline config and the pins, so it is retrained only when they change.
# Override RASA_DATA_DIR to train from another folder of *.yml files, RASA_PYTHON310 to
# choose the interpreter. pip runs with -qq: this machine's pip config lists local index
# folders that do not exist, and -q would print a warning for each of the 160 pins.

RASA_VERSION      := 3.6.21
RASA_VENV         ?= .rasa-venv
RASA_HOST_PYTHON  ?= .venv/bin/python
RASA_REQUIREMENTS ?= nlu/rasa/requirements.txt
RASA_CONFIG       ?= nlu/rasa/config.yml
RASA_DATA_DIR     ?= nlu/data
RASA_MODELS_DIR   ?= var/rasa/models
RASA_PORT         ?= 5005
RASA_STAMP        := $(RASA_VENV)/.workright-requirements.sha256
RASA_CLI           = $(RASA_HOST_PYTHON) -m nlu.rasa_server
RASA_CLI_PATHS     = --venv $(RASA_VENV) --config $(RASA_CONFIG) --requirements $(RASA_REQUIREMENTS) \
                     --data-dir $(RASA_DATA_DIR) --models-dir $(RASA_MODELS_DIR)

.PHONY: rasa rasa-venv rasa-train rasa-serve rasa-clean

rasa: rasa-train

rasa-venv:
	@set -e; \
	test -x "$(RASA_HOST_PYTHON)" || { echo "rasa: $(RASA_HOST_PYTHON) is missing: create the project venv first (or set RASA_HOST_PYTHON)" >&2; exit 1; }; \
	want="$$(sha256sum $(RASA_REQUIREMENTS) | cut -d' ' -f1)"; \
	if [ -f "$(RASA_STAMP)" ] && [ "$$(cat $(RASA_STAMP))" = "$$want" ] && [ -x "$(RASA_VENV)/bin/rasa" ]; then \
		echo "rasa: $(RASA_VENV) up to date (rasa $(RASA_VERSION))"; exit 0; \
	fi; \
	start=$$(date +%s); \
	if [ ! -x "$(RASA_VENV)/bin/python" ]; then \
		py="$(RASA_PYTHON310)"; \
		if [ -z "$$py" ]; then py="$$($(RASA_CLI) find-python)"; fi; \
		echo "rasa: creating $(RASA_VENV) with $$py"; \
		"$$py" -m venv "$(RASA_VENV)"; \
	fi; \
	echo "rasa: installing rasa==$(RASA_VERSION) and its pins into $(RASA_VENV) ..."; \
	"$(RASA_VENV)/bin/python" -m pip install -qq --disable-pip-version-check \
		-r "$(RASA_REQUIREMENTS)"; \
	"$(RASA_VENV)/bin/python" -m pip check; \
	RASA_TELEMETRY_ENABLED=false "$(RASA_VENV)/bin/python" -c \
		"import rasa, sys; v = rasa.__version__; sys.exit(0 if v == '$(RASA_VERSION)' else 'rasa ' + v + ' installed, $(RASA_VERSION) wanted')"; \
	echo "$$want" > "$(RASA_STAMP)"; \
	echo "rasa: $(RASA_VENV) installed in $$(( $$(date +%s) - start )) s"

rasa-train: rasa-venv
	@$(RASA_CLI) train $(RASA_CLI_PATHS)

rasa-serve: rasa-train
	@$(RASA_CLI) serve $(RASA_CLI_PATHS) --port $(RASA_PORT)

rasa-clean:
	rm -rf "$(RASA_VENV)" "$(RASA_MODELS_DIR)"
