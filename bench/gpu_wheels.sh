#!/usr/bin/env bash
# Download, on a machine with PyPI, the wheels that a GPU box's stock Python (3.12, with
# torch, transformers, aiohttp, numpy, psutil, uvloop, typer, rich, nvidia-ml-py) lacks to
# run agentload; bench/gpu_check.sh installs them from .whl/ when it finds them there.
#   bash bench/gpu_wheels.sh [DIR] [PYTHON_VERSION]     # default .whl and 3.12
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.whl}"
pyver="${2:-3.12}"
mkdir -p "$dest"
pins=()
for name in pydantic pydantic_core annotated-types typing-inspection typing_extensions \
    fastapi starlette annotated-doc anyio uvicorn h11 msgspec hdrhistogram pbr redis httptools \
    yarl multidict propcache aiohttp aiosignal frozenlist aiohappyeyeballs attrs \
    opentelemetry-api; do
  pin=$(grep -i -E "^${name//[-_]/[-_]}==" constraints.txt || true)
  pins+=("${pin:-$name}")
done
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$pyver" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  --platform manylinux_2_5_x86_64 -d "$dest" "${pins[@]}"
ls "$dest"
