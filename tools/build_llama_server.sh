#!/usr/bin/env bash
# Builds upstream llama.cpp's `llama-server` once per machine and installs it into a virtual environment's bin.
#
#   tools/build_llama_server.sh VENV
#
# The source is the llama.cpp tree that the llama-cpp-python sdist vendors (from PyPI, the only network
# this needs). The binary is cached in ~/.cache/clinsim/llama-server/VERSION-ISA, so a second environment
# on the same machine copies it in seconds. ISA: AVX-512 (with VNNI) where the CPU has it, measured 1.4x
# faster prompt evaluation than AVX2 on these machines, else AVX2; never AMX (its kernels crashed here,
# SIGSEGV in ggml_backend_amx_mul_mat) and never -march=native, which would turn AMX on where reported.
set -euo pipefail
VENV=${1:?usage: build_llama_server.sh VENV}
VERSION=0.3.36
if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo \
   && grep -qw avx512_vnni /proc/cpuinfo; then
  ISA=avx512
  ISA_FLAGS="-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_BF16=ON"
else
  ISA=avx2
  ISA_FLAGS="-DGGML_AVX512=OFF"
fi
CACHE=${CLINSIM_BUILD_CACHE:-$HOME/.cache/clinsim}/llama-server/$VERSION-$ISA
if [ ! -x "$CACHE/llama-server" ]; then
  echo "building llama-server ($ISA) from llama-cpp-python $VERSION's llama.cpp (about 8 minutes, once per machine)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$VENV/bin/python" -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: \
    -d "$work" "llama-cpp-python==$VERSION"
  tar -xzf "$work"/llama_cpp_python-$VERSION.tar.gz -C "$work"
  # shellcheck disable=SC2086
  cmake -S "$work/llama_cpp_python-$VERSION/vendor/llama.cpp" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=ON -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF $ISA_FLAGS > "$work/cmake.log" 2>&1 \
    || { tail -30 "$work/cmake.log"; exit 1; }
  cmake --build "$work/build" --target llama-server -j "$(nproc)" > "$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log"; exit 1; }
  mkdir -p "$CACHE"
  cp "$work/build/bin/llama-server" "$CACHE/llama-server.tmp" && mv "$CACHE/llama-server.tmp" "$CACHE/llama-server"
fi
install -m 755 "$CACHE/llama-server" "$VENV/bin/llama-server"
