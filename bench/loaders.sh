#!/usr/bin/env bash
# Training-loader epochs, every byte consumed: Loam beside Lance, Hugging Face datasets and MosaicML
# Streaming (bench/loaders.py). Peers install into a throwaway venv (bench/.venv-loaders); torch is the
# CPU wheel from pip's find-links folder (PyPI's default torch pulls gigabytes of CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam 2>&1 | tail -1
V=bench/.venv-loaders
if [ ! -x $V/bin/python ] || ! $V/bin/python -c "import lance, datasets, torch, pyarrow" 2>/dev/null || ! $V/bin/pip show mosaicml-streaming >/dev/null 2>&1; then
  python3 -m venv $V
  $V/bin/pip install -q --disable-pip-version-check "torch==2.13.0+cpu" pylance mosaicml-streaming datasets pyarrow numpy
fi
# mosaicml-streaming pulls torchvision, whose PyPI wheel does not load against the CPU torch: remove it (loaders.py explains).
$V/bin/pip uninstall -q -y torchvision 2>/dev/null || true
rm -rf python/build python/*.egg-info
$V/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python
exec $V/bin/python bench/loaders.py --bin "$PWD/.build/release" "$@"
