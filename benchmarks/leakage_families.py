"""Where does a model's leakage come from? ``vidgan eval``'s leakage ratio split by motion family.

    python benchmarks/leakage_families.py runs/NAME
    python benchmarks/leakage_families.py runs/NAME --triples 256 --model-set decoder.max_shift=3.0

For a model trained on ``synthetic_shapes``: the triples ``vidgan eval --leakage-triples N``
scores (:func:`vidgan_kit.eval.leakage_picks`, the run's own test split), each transfer
scored as ``vidgan eval`` scores it (:func:`vidgan_kit.eval.clip_l1`, whose mean over the
triples is :func:`~vidgan_kit.eval.leakage_changes`: mean L1 on
[0, 1] of the output for a motion clip with the same motion in another content, and with
another motion in the same content, against the base output). Rows group the triples by the
family of the shared motion (m1). A family's *share* is its content change summed over the
whole mean motion change, so the shares add up to the overall ratio; its *own ratio* is its
mean content change over its mean motion change. Rows split by shape say whether a disc is
among the two contents that swap (a disc's outline shows no turn).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from learn_synthetic import add_model_set_argument, test_split  # noqa: E402

from vidgan_kit import PluginHost  # noqa: E402
from vidgan_kit.checkpoint import read_index  # noqa: E402
from vidgan_kit.eval import clip_l1, leakage_picks  # noqa: E402
from vidgan_kit.inference import load_pipeline  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="run directory or checkpoint (synthetic_shapes)")
    parser.add_argument("--triples", type=int, default=256, help="leakage triples (vidgan eval --leakage-triples)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the triples' draw (vidgan eval's is 0)")
    parser.add_argument("--batch", type=int, default=32, help="triples per batch")
    add_model_set_argument(parser, "decoder.max_shift=3.0")
    args = parser.parse_args(argv)

    host = PluginHost.create()
    pipe = load_pipeline(args.run, registry=host.registry, notes=lambda message: None, options=args.model_set)
    test = test_split(read_index(args.run), host.registry, pipe.geometry)
    picks = leakage_picks(len(test), args.triples, args.seed)
    truth = test.transfer_truth
    content_change, motion_change = [], []
    with torch.no_grad():
        for start in range(0, len(picks), args.batch):
            batch = picks[start : start + args.batch]
            image = torch.stack([truth(p[0], p[0])[0] for p in batch])
            base, content, motion = (
                pipe.model.transfer(image, torch.stack([truth(p[c], p[m]) for p in batch])).float()
                for c, m in ((1, 3), (2, 3), (1, 4)))
            content_change.append(clip_l1(base, content))
            motion_change.append(clip_l1(base, motion))
    cc, mc = torch.cat(content_change), torch.cat(motion_change)
    families = [test.factors(p[3])[1].kind for p in picks]
    with_disc = torch.tensor(["circle" in (test.factors(p[1])[0].shape, test.factors(p[2])[0].shape) for p in picks])

    print("command :", shlex.join(["python", "benchmarks/leakage_families.py", *(argv or sys.argv[1:])]))
    print(f"run     : {args.run}; {args.triples} triples (seed {args.seed}), {pipe.geometry.frames} frames "
          f"{pipe.geometry.height}x{pipe.geometry.width}\n")
    print("| motion family (m1) | triples | share of the ratio | own ratio | content change | motion change |")
    print("|---|---:|---:|---:|---:|---:|")

    def row(name: str, chosen: torch.Tensor) -> None:
        share = float(cc[chosen].sum() / len(cc) / mc.mean())
        own = float(cc[chosen].mean() / mc[chosen].mean()) if chosen.any() else float("nan")
        print(f"| {name} | {int(chosen.sum())} | {share:.3f} | {own:.3f} | {float(cc[chosen].mean()):.4f} "
              f"| {float(mc[chosen].mean()):.4f} |")

    for family in sorted(set(families)):
        chosen = torch.tensor([f == family for f in families])
        row(family, chosen)
        if family == "rotation":
            row("rotation, a disc among the two contents", chosen & with_disc)
            row("rotation, no disc", chosen & ~with_disc)
    row("all", torch.ones(len(picks), dtype=torch.bool))


if __name__ == "__main__":
    main()
