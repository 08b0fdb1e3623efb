#!/bin/bash
# One-shot device run: fine-tune the shipped checkerboard model on a GPU within a time budget.
# Env: OUT (results), BUDGET (seconds from start until training must stop), DEVICE, PY.
set -u
T0=$(date +%s)
BUDGET=${BUDGET:-470}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
LR=${LR:-1e-4}
BATCH=${BATCH:-16}
CROP=${CROP:-256}
PROBE=${PROBE:-150}
if [ -n "${INSTALL:-1}" ] && [ "${INSTALL:-1}" != 0 ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1
LOG=$OUT/main.log
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  $PY -c "import sys, torch, numpy; print(sys.version.split()[0], torch.__version__, numpy.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"
} > "$LOG" 2>&1
NC="$PY -m ncodec.cli.main"
COMMON="--arch checkerboard --init ncodec/weights/checkerboard.safetensors --batch $BATCH --crop $CROP --lr $LR --device $DEVICE --no-progress"
rm -rf /tmp/probe /tmp/run
echo "== probe $(date +%s)" >> "$LOG"
$NC train image $COMMON --data .gpu/data/misc --steps "$PROBE" --out /tmp/probe >> "$LOG" 2>&1 || { echo "probe failed" >> "$LOG"; tail -30 "$LOG"; exit 4; }
SPS=$($PY -c "
import json, sys
from safetensors import safe_open
with safe_open('/tmp/probe/checkpoint.safetensors', 'pt') as f:
    st = json.loads(f.metadata()['state'])
print(st['seconds'] / st['step'])")
NOW=$(date +%s)
LEFT=$((T0 + BUDGET - NOW))
STEPS=$($PY -c "print(max(100, int(($LEFT - 25) / $SPS)))")
echo "== probe: $SPS s/step; $LEFT s left -> $STEPS steps" >> "$LOG"
echo "== main $(date +%s)" >> "$LOG"
timeout -s TERM "$LEFT" $NC train image $COMMON --data .gpu/data/misc .gpu/data/bsds --val-data .gpu/data/val \
  --steps "$STEPS" --checkpoint-minutes 1 --val-every 500 --out /tmp/run >> "$LOG" 2>&1
echo "== main exit $? at $(date +%s)" >> "$LOG"
cp /tmp/run/log.csv /tmp/run/config.json "$OUT"/ 2>/dev/null
$NC train export /tmp/run /tmp/w32.safetensors >> "$LOG" 2>&1 && split -b 14000000 -d /tmp/w32.safetensors "$OUT/w32.part"
sha256sum /tmp/w32.safetensors >> "$LOG" 2>&1
echo "== done $(( $(date +%s) - T0 )) s" >> "$LOG"
tail -15 "$LOG"
