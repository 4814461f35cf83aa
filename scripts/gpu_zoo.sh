#!/bin/bash
# The painted zoo on a lent GPU: the whole recipe (scripts/train_zoo.py --device cuda) as ONE
# device call, inside the device tool's limits (/work/.library/device/README.md): 64 MiB of
# working tree, one command of at most 10 minutes, 15 minutes of device time per task in all,
# at most 8 files back. Three steps, the middle one on the GPU machine:
#
#   bash scripts/gpu_zoo.sh prepare   # here: pack photos, paintings and VGG16 into .gpu/ (60 MB), and
#                                     # untrack checkpoints/ and pretrained/ (60 MB) for the call
#   device run: command "bash scripts/gpu_zoo.sh train", carry [".gpu"], timeout_s 560
#   bash scripts/gpu_zoo.sh finish DIR   # here: DIR = the call's files_at; tracks them again,
#                                        # restores the runs, publishes the zoo, writes a preview
#
# `train` ends every stage by MINUTES (default 7.5) with a checkpoint, so the call returns in
# time whatever the GPU's speed; publish --partial takes what it reached (the cards say how
# many steps). Run `finish` even if the call failed: it always tracks the folders again.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS_HERE=../runs/painted_zoo_gpu
HIDDEN=(checkpoints pretrained)

case "${1:-}" in
prepare)
    python -m scripts.train_zoo pack
    # Untracked and ignored, they stay here but do not travel (the call sends tracked and
    # unignored files). Only the index changes; `finish` puts it back.
    git rm -r -q --cached "${HIDDEN[@]}"
    { echo "# gpu_zoo.sh {"; printf '/%s/\n' "${HIDDEN[@]}"; echo "# gpu_zoo.sh }"; } >> .git/info/exclude
    echo "ready: git status shows ${HIDDEN[*]} as deleted until 'finish' (do not commit meanwhile)"
    ;;
train)
    : "${OUT:?run this on the device machine, where \$OUT is set}"
    export PYTHONUNBUFFERED=1 STYLETRANSFER_VGG16_WEIGHTS="$PWD/.gpu/vgg16.safetensors"
    export STYLETRANSFER_CACHE=/tmp/styletransfer-cache
    preset=${ZOO_PRESET:-cuda}  # cpu: a dry run of this script on a machine without a GPU
    runs=/tmp/zoo_runs
    (nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c "import torch; print('torch', torch.__version__)") > "$OUT/machine.txt" 2>&1 || true
    status=0
    # tqdm's carriage returns become lines, one every few seconds: a log that reads as a curve.
    python3 -m scripts.train_zoo --device "$preset" --data .gpu --runs "$runs" train --minutes "${MINUTES:-7.5}" 2>&1 \
        | tr '\r' '\n' | grep -v '^\s*$' > "$OUT/train.log" || status=$?
    python3 -m scripts.train_zoo --device "$preset" --runs "$runs" --snapshots "$OUT" snapshot >> "$OUT/train.log" 2>&1 || status=$?
    tar czf "$OUT/runs.tgz" -C "$runs" --exclude checkpoint.pt . || true  # losses.csv/.png and config.json of each stage
    tail -n 5 "$OUT/train.log"
    exit $status
    ;;
finish)
    # The index first, so that even a call that brought nothing back leaves the checkout whole.
    git reset -q -- "${HIDDEN[@]}"
    sed -i '/^# gpu_zoo.sh {$/,/^# gpu_zoo.sh }$/d' .git/info/exclude
    from=${2:?usage: gpu_zoo.sh finish FOLDER_WITH_THE_CALLS_FILES (the folders are tracked again)}
    mkdir -p checkpoints/painted_zoo_gpu "$RUNS_HERE"
    cp "$from"/*.pt checkpoints/painted_zoo_gpu/
    tar xzf "$from/runs.tgz" -C "$RUNS_HERE"
    python -m scripts.train_zoo --device cuda --runs "$RUNS_HERE" --snapshots checkpoints/painted_zoo_gpu restore
    python -m scripts.train_zoo --device cuda --runs "$RUNS_HERE" publish --partial
    python -m scripts.train_zoo --device cuda --runs "$RUNS_HERE" preview -o artifacts/zoo_gpu_preview.jpg
    echo "next: look at artifacts/zoo_gpu_preview.jpg, python -m bench.quality, then commit pretrained/ and checkpoints/painted_zoo_gpu/"
    ;;
*)
    sed -n '2,16p' "$0"
    exit 2
    ;;
esac
