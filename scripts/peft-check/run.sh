#!/bin/sh
# Optional check (not part of npm test): our LoRA adapters load in Python's PEFT on the Hugging Face
# Qwen2.5-VL, with the same logits, and PEFT's own saved adapter loads in loadModel({ adapter }).
# Needs a Python with torch, transformers (Qwen2.5-VL) and peft, e.g.
#   python3 -m venv venv && venv/bin/pip install torch transformers peft
# Usage (from the repo root, after npm run build): PYTHON=venv/bin/python sh scripts/peft-check/run.sh [outDir]
set -e
here=$(dirname "$0")
out=${1:-peft-check-out}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
node "$here/make_adapter.mjs" "$out"
"${PYTHON:-python3}" "$here/peft_check.py" "$out" 2>&1 | grep -v "Loading weights"
node "$here/load_peft_adapter.mjs" "$out" peft_resaved
