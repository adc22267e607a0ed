#!/usr/bin/env bash
# Installs the benchmark peers: PyTorch (CPU) from Debian, which bench/run.ts runs the transformer block against.
# NumPy for the matmul peer usually comes with the default python3; Debian's torch brings its own numpy for
# /usr/bin/python3. Idempotent: does nothing when some interpreter can already import torch.
set -euo pipefail

has_torch() {
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import torch' >/dev/null 2>&1; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

if py=$(has_torch); then
  echo "bench/setup: torch already importable by $py ($("$py" -c 'import torch; print(torch.__version__)'))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "bench/setup: need root (or sudo) to apt-get install python3-torch" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# libopenblas0-pthread: a threaded BLAS for Debian's numpy/torch (the serial variant would pin them to one core)
$SUDO apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread

if py=$(has_torch); then
  echo "bench/setup: torch $("$py" -c 'import torch; print(torch.__version__)') importable by $py"
else
  echo "bench/setup: python3-torch installed but no interpreter can import torch" >&2
  exit 1
fi
