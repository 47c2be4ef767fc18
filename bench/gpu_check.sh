#!/usr/bin/env bash
# GPU check on a fresh machine with an NVIDIA GPU: find or make a Python that has torch with
# CUDA and agentload's dependencies, then run bench/gpu_check.py.
#   bash bench/gpu_check.sh [OUT_DIR] [gpu_check.py options...]      # OUT_DIR default: $OUT
# Python, in order: $PYTHON; .venv/bin/python when its torch sees CUDA; else python3 (a GPU
# image's Python usually holds torch with CUDA) with src/ on PYTHONPATH and the missing
# packages installed into /tmp/agentload-site from .whl/ (made by bench/gpu_wheels.sh where
# PyPI is reachable) or, failing that, from the package index.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu-check-out}}"
[ $# -gt 0 ] && shift
started=$(date +%s)

has_cuda() { "$1" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }
has_agentload() { "$1" -c 'import agentload.cli.main, agentload.reference_agent.app, transformers' 2>/dev/null; }

py="${PYTHON:-}"
if [ -z "$py" ] && [ -x .venv/bin/python ] && has_cuda .venv/bin/python; then
  py=.venv/bin/python
fi
if [ -z "$py" ]; then
  py=python3
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
  if ! has_agentload "$py"; then
    site=/tmp/agentload-site
    if compgen -G ".whl/*.whl" >/dev/null; then
      echo "installing $(ls .whl/*.whl | wc -l) wheels from .whl/ into $site"
      "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" .whl/*.whl
    else
      echo "installing agentload's dependencies into $site from the package index"
      "$py" -m pip install -q --no-cache-dir --target "$site" -c constraints.txt \
        pydantic fastapi uvicorn msgspec hdrhistogram redis httptools
    fi
    export PYTHONPATH="$PWD/src:$site"
  fi
fi
has_agentload "$py" || { echo "setup: $py cannot import agentload and transformers:" >&2
  "$py" -c "import agentload.cli.main, agentload.reference_agent.app, transformers" 2>&1 | tail -3; exit 2; }
echo "python: $py ($("$py" --version 2>&1)); set up in $(( $(date +%s) - started ))s"
"$py" -c 'import pynvml' 2>/dev/null || echo "note: nvidia-ml-py missing: the gpu collector will say so"
exec "$py" bench/gpu_check.py --out "$out" "$@"
