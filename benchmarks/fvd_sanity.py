"""FVD sanity check with the real I3D on real clips, and a check of the I3D port itself.

Needs the I3D weights (``vidgan weights fetch i3d``) and data that is not in the
repository, so it is a benchmark, not a test::

    python benchmarks/fvd_sanity.py --weizmann ../shared/data/weizmann64
    python benchmarks/fvd_sanity.py --i3d-check ../shared/data/i3d-check
    python benchmarks/fvd_sanity.py --weizmann ../shared/data/weizmann64 --clips 12   # a busy machine

**FVD ordering** (Weizmann 64×64 frame strips, clips of ≥ 32 frames): the features of
frames 0–15 of every clip (set A) against frames 16–31 of the same clips (B), against B
shuffled in time, and against B's first frame held still. A working FVD orders them

    FVD(A, B) < FVD(A, B shuffled in time) < FVD(A, B static)

(absolute values are inflated at this sample size; the ordering is the check). Frames are
upsampled bilinearly to 224² and the 400-d logits are the features, as ``vidgan eval``'s
default ``fvd`` metric does.

**I3D port** (``--i3d-check``): the reference clip ``v_CricketShot_g04_c01_rgb.gif``
(79 frames, 224², decoded to [-1, 1]) must be classified "playing cricket" with
probability 0.989 and top logit 17.6, as the reference JAX implementation does.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidgan_kit.eval.frechet import frechet_distance_features
from vidgan_kit.io import read_video, uint8_to_tensor


def read_strip(path: Path, size: int = 64) -> torch.Tensor:
    """A horizontal frame strip (PNG/JPG) → ``[T, 3, size, size]`` in [-1, 1]."""
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    frames = rgb.shape[1] // size
    return uint8_to_tensor(np.stack([rgb[:, t * size : (t + 1) * size] for t in range(frames)]))


def weizmann_sets(root: Path, clips: int | None, seed: int = 0) -> dict[str, torch.Tensor]:
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    if clips:
        # spread over the action folders rather than taking the first folder only
        by_folder: dict[str, list[Path]] = {}
        for p in files:
            by_folder.setdefault(p.parent.name, []).append(p)
        picked: list[Path] = []
        while len(picked) < min(clips, len(files)):
            for group in by_folder.values():
                if group and len(picked) < clips:
                    picked.append(group.pop(0))
        files = picked
    rng = np.random.default_rng(seed)
    a, b, shuffled, static = [], [], [], []
    for p in files:
        v = read_strip(p)
        if v.shape[0] < 32:
            continue
        a.append(v[:16])
        b.append(v[16:32])
        shuffled.append(v[16:32][torch.from_numpy(rng.permutation(16))])
        static.append(v[16:17].expand(16, -1, -1, -1))
    return {"real_0_15": torch.stack(a), "real_16_31": torch.stack(b), "shuffled": torch.stack(shuffled),
            "static": torch.stack(static)}


def fvd_metric():  # noqa: ANN201 - the registered fvd metric with the pretrained weights
    from vidgan_kit import load_registry

    metric = load_registry().build("metric", "fvd", {"features": "logits", "weights": "kinetics400"})
    metric.check_ready()
    return metric


def run_fvd(args: argparse.Namespace) -> int:
    sets = weizmann_sets(Path(args.weizmann), args.clips)
    n = len(sets["real_0_15"])
    metric = fvd_metric()
    feats = {}
    t0 = time.perf_counter()
    for name, clips in sets.items():
        t = time.perf_counter()
        feats[name] = metric.features(clips)
        print(f"  features of {name}: {n} clips in {time.perf_counter() - t:.1f} s", flush=True)
    per_clip = (time.perf_counter() - t0) / (4 * n)
    ref = feats["real_0_15"]
    real = frechet_distance_features(ref, feats["real_16_31"])
    shuffled = frechet_distance_features(ref, feats["shuffled"])
    static = frechet_distance_features(ref, feats["static"])
    print(f"FVD on {n} Weizmann clips (64x64 -> 224, 16 frames, 400-d logits; {per_clip:.2f} s per clip):")
    print(f"  real 0-15 vs real 16-31       {real:9.1f}")
    print(f"  real 0-15 vs 16-31 shuffled   {shuffled:9.1f}")
    print(f"  real 0-15 vs 16-31 static     {static:9.1f}")
    ok = real < shuffled < static
    print("ordering real < shuffled < static:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def run_i3d_check(args: argparse.Namespace) -> int:
    from vidgan_builtin.metrics.i3d import load_pretrained_i3d

    folder = Path(args.i3d_check)
    video = read_video(folder / "v_CricketShot_g04_c01_rgb.gif")
    labels = (folder / "label_map.txt").read_text(encoding="utf-8").splitlines()
    net = load_pretrained_i3d()
    t = time.perf_counter()
    with torch.no_grad():
        logits, _ = net(video[None])
    probs = logits.softmax(-1)[0]
    top = int(logits[0].argmax())
    print(f"I3D on the reference clip ({video.shape[0]} frames, {time.perf_counter() - t:.1f} s):")
    for i in logits[0].topk(3).indices.tolist():
        print(f"  {labels[i]:<20s} logit {float(logits[0, i]):7.3f}  p {float(probs[i]):.4f}")
    ok = labels[top] == "playing cricket" and abs(float(logits[0, top]) - 17.6) < 0.05 and abs(
        float(probs[top]) - 0.989) < 0.001
    print("matches the reference (playing cricket, logit 17.6, p 0.989):", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weizmann", help="folder of Weizmann 64x64 frame strips (e.g. ../shared/data/weizmann64)")
    parser.add_argument("--clips", type=int, default=None, help="use only this many clips (spread over actions)")
    parser.add_argument("--i3d-check", help="folder with v_CricketShot_g04_c01_rgb.gif and label_map.txt")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    args = parser.parse_args(argv)
    if not args.weizmann and not args.i3d_check:
        parser.error("give --weizmann and/or --i3d-check")
    if args.threads:
        torch.set_num_threads(args.threads)
    rc = 0
    if args.i3d_check:
        rc |= run_i3d_check(args)
    if args.weizmann:
        rc |= run_fvd(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
