# Two entry points for a newcomer: `make demo` and `make test`. Both create the environment if missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   ?= clinsim-data

.PHONY: demo test install browser clean-venv

install: $(STAMP)

# llama-cpp-python compiles from source (about 5 minutes on 2 cores). It is built once per machine into a
# wheel cache, for portable AVX2 and without AMX: the native build (GGML_NATIVE) picks AMX kernels on
# CPUs that report AMX, and those crash (SIGSEGV in ggml_backend_amx_mul_mat) on these machines.
LLAMA_VERSION := 0.3.36
LLAMA_WHEELS  ?= $(HOME)/.cache/clinsim/wheels/llama-cpp-python-$(LLAMA_VERSION)-avx2
LLAMA_CMAKE   := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
                 -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

# Re-installs when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || { \
		echo "building llama-cpp-python $(LLAMA_VERSION) (about 5 minutes, once per machine)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE)" $(PY) -m pip wheel --disable-pip-version-check -q --no-deps --no-cache-dir \
			-w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION); }
	$(PY) -m pip install --disable-pip-version-check -q $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test]'
	@touch $(STAMP)

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
