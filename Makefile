# Two entry points for a newcomer: `make demo` and `make test`. Both create the environment if missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   ?= clinsim-data

.PHONY: demo test install browser clean-venv llama-server

install: $(STAMP)

# The embedded model runs in upstream llama.cpp's llama-server, built once per machine (about 8 minutes on 2
# cores) into ~/.cache/clinsim and copied into the environment: see tools/build_llama_server.sh.
LLAMA_SERVER := $(VENV)/bin/llama-server

# Re-installs when pyproject.toml changes. The compile runs while pip installs (pip is mostly one core of
# unpacking, the compile wants both), which saves minutes on a fresh machine; either failing fails the make.
$(STAMP): pyproject.toml tools/build_llama_server.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@bash tools/build_llama_server.sh $(VENV) & build=$$!; \
		$(PY) -m pip install --disable-pip-version-check -q -e '.[test]'; pip_status=$$?; \
		wait $$build; build_status=$$?; \
		[ $$pip_status -eq 0 ] || { echo "pip install failed"; exit $$pip_status; }; \
		[ $$build_status -eq 0 ] || { echo "building llama-server failed"; exit $$build_status; }
	@touch $(STAMP)

llama-server: $(STAMP)

# The main job on the embedded defaults: no API key, no network.
demo: $(STAMP)
	$(VENV)/bin/clinsim --data-dir $(DATA) demo

# The browser tests drive the Gradio app in the distribution's Chromium (never a downloaded browser).
# Without root or sudo this only warns: those tests then skip and say why.
browser:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=none; fi; \
		if [ "$$SUDO" = none ]; then \
			echo "warning: /usr/bin/chromium is missing and neither root nor sudo is available; the browser tests will skip"; \
		else \
			echo "installing chromium (about 2 minutes, once per machine)"; \
			$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver \
				|| echo "warning: installing chromium failed; the browser tests will skip"; \
		fi; }

test: $(STAMP) browser
	@# pytest exits 5 when it collected no tests: not a failure of the code under test.
	HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False \
		$(PY) -m pytest -q $(PYTEST_ARGS); status=$$?; [ $$status -eq 5 ] && exit 0; exit $$status

clean-venv:
	rm -rf $(VENV)
