#!/usr/bin/env bash
# One prepared GPU session: what a developer session with a lent GPU machine runs, in one call
# (device time is short and each start costs minutes). Run from the repository root:
#
#     MINUTES=6 OUT=/tmp/gpu-out bash benchmarks/gpu_session.sh
#
# Settings (environment): MINUTES (training budget, default 6), SEED (default 0), WORKERS
# (loader processes, 6), SMOKE (0 skips step 1), BF16_STEPS (steps of a bf16 training check
# after step 2, 0 = none), SPEED_CONFIGS (speed.py --configs; empty skips step 3), DEVICE.
#
# Steps, each logged to $OUT (the files to bring back):
#   1. smoke: recipes/tiny.toml trained 4 steps on CUDA, then a transfer and samples through
#      load_pipeline(device="cuda"), compared with the same checkpoint on the CPU
#      (smoke.log). A failure here stops the session: the rest would fail alike.
#   2. recipes/dual_mtgan.toml as it is (64x64, 16 frames, batch 16, fp32) trained on the GPU
#      for $MINUTES minutes of wall-clock (train.max_minutes), data rendered by
#      $WORKERS loader processes, a checkpoint every 1000 steps (train.log, metrics in the run).
#      The run comes back as gpu64-final.tgz (last checkpoint without the optimiser state, the
#      recipe, metrics.jsonl, environment.json, samples) and gpu64-curve.tgz (the other
#      checkpoints), to be scored on any machine:
#          python benchmarks/learn_synthetic.py --evaluate RUN
#   2b. with BF16_STEPS > 0: the same recipe in bf16 autocast for that many steps (bf16.log:
#      its last metrics line; a NaN loss or an error shows there).
#   3. benchmarks/speed.py --device cuda: s/iter per precision config, one transfer, the
#      trainer's overhead (speed.log, speed.json).
#
# Packages the GPU machine lacks travel as wheels in .whl/ (see NOTES.md, "GPU session"); the
# project itself is one of them (python -m pip wheel --no-deps -w .whl .), so its entry points
# register the built-in plugins exactly as an install does.
set -u
OUT=${OUT:-/tmp/gpu-out}
MINUTES=${MINUTES:-6}
WORKERS=${WORKERS:-6}
SEED=${SEED:-0}
WORK=${WORK:-/tmp/vidgan-gpu-session}  # scratch: the runs are made here, then packed into $OUT
SMOKE=${SMOKE:-1}
BF16_STEPS=${BF16_STEPS:-0}
SPEED_CONFIGS=${SPEED_CONFIGS-fp32,fp32-cl,bf16-cl,transfer,overhead}
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu MINUTES=0.2 checks the script itself on any machine
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1 DEVICE WORK
say() { echo "== $(date +%T) $*"; }

if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed"; exit 3; }
    export PYTHONPATH=/tmp/site
    export PATH=/tmp/site/bin:$PATH
fi
cd /tmp || exit 3 # import the installed package, not the checkout's folders
REPO=$OLDPWD
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, vidgan_kit, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0)); print('cpus', __import__('os').cpu_count())" | tee -a "$OUT/gpu.txt"

if [ "$SMOKE" != 0 ]; then
say "1. smoke (tiny recipe on CUDA)"
rm -rf "$WORK/smoke"
timeout 180 python3 -m vidgan_kit run "$REPO/recipes/tiny.toml" --set train.device="$DEVICE" --set train.steps=4 --out "$WORK/smoke" -q \
    >"$OUT/smoke.log" 2>&1 && timeout 120 python3 - >>"$OUT/smoke.log" 2>&1 <<'EOF'
import os

import torch
from vidgan_kit import PluginHost
from vidgan_kit.inference import load_pipeline

registry = PluginHost.create().registry
gpu, cpu = (load_pipeline(os.environ["WORK"] + "/smoke", registry=registry, device=d) for d in (os.environ["DEVICE"], "cpu"))
g = torch.Generator().manual_seed(0)
video = torch.rand((gpu.geometry.frames, 3, gpu.geometry.height, gpu.geometry.width), generator=g) * 2 - 1
image = video[0]
out_gpu, out_cpu = gpu.transfer(image, video), cpu.transfer(image, video)
print("transfer", tuple(out_gpu.shape), "device", out_gpu.device, "max |gpu - cpu|", float((out_gpu.cpu() - out_cpu).abs().max()))
samples = gpu.sample(image, 4, seed=0)
print("samples", tuple(samples.shape), "spread", float(samples.std(dim=0).mean()))
EOF
rc=$?
cat "$OUT/smoke.log" | tail -5
if [ $rc -ne 0 ]; then say "smoke failed (rc $rc): stopping"; exit 4; fi
fi

say "2. dual_mtgan.toml, 64x64, seed $SEED, $MINUTES min on the GPU"
rm -rf "$WORK/gpu64"
timeout $(python3 -c "print(int($MINUTES * 60 + 180))") python3 -m vidgan_kit run "$REPO/recipes/dual_mtgan.toml" --out "$WORK/gpu64" -q --set seed="$SEED" \
    --set train.device="$DEVICE" --set train.max_minutes="$MINUTES" --set loader.workers="$WORKERS" --set train.threads=4 \
    --set train.checkpoint_every=1000 --set train.keep_checkpoints=100 --set train.sample_every=2000 \
    >"$OUT/train.log" 2>&1
echo "train rc $?" | tee -a "$OUT/train.log"
tail -3 "$OUT/train.log"
if [ -d "$WORK/gpu64/checkpoints" ]; then
    last=$(ls "$WORK/gpu64/checkpoints" | sort | tail -1)
    others=$(ls "$WORK/gpu64/checkpoints" | sort | head -n -1 | sed 's|^|gpu64/checkpoints/|')
    extra=$(cd "$WORK" && ls -d gpu64/samples 2>/dev/null)
    tar -C "$WORK" -czf "$OUT/gpu64-final.tgz" --exclude training_state.safetensors \
        gpu64/recipe.toml gpu64/recipe.json gpu64/environment.json gpu64/metrics.jsonl $extra "gpu64/checkpoints/$last"
    [ -n "$others" ] && tar -C "$WORK" -czf "$OUT/gpu64-curve.tgz" --exclude training_state.safetensors $others
    tail -1 "$WORK/gpu64/metrics.jsonl" | cut -c1-400
    ls -la "$OUT"
fi

if [ "$BF16_STEPS" != 0 ]; then
    say "2b. the same recipe in bf16 for $BF16_STEPS steps"
    rm -rf "$WORK/bf16"
    timeout 240 python3 -m vidgan_kit run "$REPO/recipes/dual_mtgan.toml" --out "$WORK/bf16" -q --set train.precision=bf16 \
        --set train.device="$DEVICE" --set train.steps="$BF16_STEPS" --set loader.workers="$WORKERS" --set train.threads=4 \
        --set train.sample_every=0 >"$OUT/bf16.log" 2>&1
    echo "bf16 rc $?" | tee -a "$OUT/bf16.log"
    tail -1 "$WORK/bf16/metrics.jsonl" | tee -a "$OUT/bf16.log" | cut -c1-600
fi

if [ -n "$SPEED_CONFIGS" ]; then
    say "3. speed.py on the GPU"
    timeout 150 python3 "$REPO/benchmarks/speed.py" --device "$DEVICE" --threads 4 --configs "$SPEED_CONFIGS" \
        --steps 10 --warmup 3 --transfer-runs 50 --overhead-steps 20 --json "$OUT/speed.json" >"$OUT/speed.log" 2>&1
    echo "speed rc $?"
    tail -22 "$OUT/speed.log"
fi
say "done"
