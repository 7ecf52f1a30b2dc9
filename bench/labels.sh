#!/usr/bin/env bash
# Labels at scale (bench/labels.py): writing 1M model pre-labels, Fleiss' kappa and Krippendorff's alpha over
# 1M annotations beside statsmodels and the krippendorff package on the same data, a COCO export of 100k boxes,
# and the annotation page's next item on a 1M-item task. Peers install into a throwaway venv (bench/.venv-labels).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam 2>&1 | tail -1
V=bench/.venv-labels
if [ ! -x $V/bin/python ] || ! $V/bin/python -c "import statsmodels, krippendorff, pyarrow, numpy" 2>/dev/null; then
  python3 -m venv $V
  $V/bin/pip install -q --disable-pip-version-check statsmodels krippendorff pyarrow numpy
fi
rm -rf python/build python/*.egg-info
$V/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python
exec $V/bin/python bench/labels.py --bin "$PWD/.build/release" "$@"
