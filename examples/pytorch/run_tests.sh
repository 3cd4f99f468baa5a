#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds s6scan_torch and runs its example and tests.
#
# By default it makes a virtual environment, build-torch/ at the checkout's root, and installs what
# is missing first: Debian's python3-venv and python3-dev, then torch (the CUDA build PyPI serves;
# without a GPU the CPU cases run and the GPU ones are skipped, with the reason), numpy (torch
# warns without it), pytest and ninja. TORCH_SPEC overrides the torch requirement ("torch==2.11.*").
# With PYTHON=/path/to/python it uses that interpreter's torch and pytest and installs nothing but
# the extension.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
  need=()
  python3 -c "import ensurepip, venv" 2>/dev/null || need+=(python3-venv)
  python3 -c "import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))" \
    2>/dev/null || need+=(python3-dev)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update && apt-get install -y "${need[@]}"
  fi
  [ -x "$root/build-torch/bin/python" ] || python3 -m venv "$root/build-torch"
  PYTHON="$root/build-torch/bin/python"
  "$PYTHON" -m pip install -q "${TORCH_SPEC:-torch>=2.4}" numpy pytest ninja
fi
t0=$SECONDS
"$PYTHON" -m pip install -q --no-build-isolation "$root/examples/pytorch"
echo "s6scan_torch built in $((SECONDS - t0)) s"
cd "$root/examples/pytorch"
# torch.compile's on-disk cache in a fresh folder: the compile test then compiles what this build
# registers instead of loading a graph that an earlier build's fake functions shaped.
TORCHINDUCTOR_CACHE_DIR="$(mktemp -d)"
export TORCHINDUCTOR_CACHE_DIR
trap 'rm -rf "$TORCHINDUCTOR_CACHE_DIR"' EXIT
"$PYTHON" mamba_block.py
"$PYTHON" -m pytest -q -rs -p no:cacheprovider tests
