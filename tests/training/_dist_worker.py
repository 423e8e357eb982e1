"""One rank of a multi-process test job: ``torchrun ... -m tests.training._dist_worker JOB.json``.

The job file lists trainings to run one after another in this process (``runs``), each
with recipe changes to the toy base recipe, ``max_steps`` and ``resume``; the rank writes
what it saw to ``<out>/rank-<R>.json``: per run and step, the clip indices of its batch,
its first noise draw and a digest of the full model state, plus the run's end status.
With ``"selftest": true`` it first exercises the collectives directly.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch
from pydantic import Field

from vidgan_kit import ComponentConfig, Registrar, hookimpl
from vidgan_kit.distributed import World, average_gradients, finish_process
from vidgan_kit.errors import VidganError
from vidgan_kit.interfaces import Loss, LossContext
from vidgan_kit.training import train

from .toys import Gan, GanConfig, make_host, make_recipe


class ProbeGan(Gan):
    """The toy GAN, recording each step's clip indices and first noise value."""

    def __init__(self, config: GanConfig, **wiring: Any) -> None:
        super().__init__(config, **wiring)
        self.record: list[dict[str, Any]] = []

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        video = batch["video"]
        self.calls += 1
        noise = torch.randn_like(video)  # the same draw as Gan.forward
        self.record.append({"indices": batch["index"].tolist(), "noise": float(noise.flatten()[0])})
        return {"real": video, "fake": self.generate(video + self.noise * noise)}


class FailConfig(ComponentConfig):
    rank: int = Field(1, description="The rank that fails.")
    at: int = Field(2, description="The iteration at which it fails.")


class FailOnRank(Loss):
    """Reconstruction, except that one rank raises at one iteration."""

    phases = ("generator",)
    Config = FailConfig

    def __init__(self, config: FailConfig) -> None:
        super().__init__()
        self.rank, self.at = config.rank, config.at

    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        if torch.distributed.get_rank() == self.rank and ctx.step == self.at:
            raise RuntimeError(f"rank {self.rank} exploded at step {self.at}")
        return (ctx.outputs["fake"] - ctx.outputs["real"]).abs().mean()


def digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in module.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class Probe:
    """Registers the probe components and records a digest of the weights after every step."""

    def __init__(self) -> None:
        self.digests: list[str] = []

    @hookimpl
    def vidgan_register_components(self, registry: Registrar) -> None:
        registry.add("model", "tr_probe_gan", ProbeGan, config=GanConfig)
        registry.add("loss", "tr_fail_on_rank", FailOnRank)

    @hookimpl
    def vidgan_step_end(self, run: Any, step: int, stats: dict[str, float]) -> None:
        self.digests.append(digest(run.model))


def selftest(world: World) -> dict[str, Any]:
    """average_gradients with gradients missing on some ranks, on_main's error path, gather_tree."""
    p = [torch.nn.Parameter(torch.zeros(3)) for _ in range(3)]
    p[0].grad = torch.full((3,), float(world.rank + 1))
    p[1].grad = torch.full((3,), 2.0) if world.rank == 1 else None
    average_gradients(p, world, bucket_bytes=16)  # 16 bytes: several buckets
    out: dict[str, Any] = {"grads": [None if q.grad is None else q.grad.tolist() for q in p]}

    def fails() -> None:
        raise ValueError("rank 0 cannot plan")

    try:
        world.on_main(fails)
    except (ValueError, VidganError) as exc:
        out["on_main_error"] = f"{type(exc).__name__}: {exc}"
    out["gathered"] = [t["x"].tolist() + [t["rank"]] for t in world.gather_tree({"x": torch.arange(world.rank + 1),
                                                                               "rank": world.rank})]
    return out


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    world = World.from_env()
    result: dict[str, Any] = {"rank": world.rank, "world_size": world.world_size, "runs": []}
    if job.get("selftest"):
        # A group started by the caller: train() below joins it instead of starting one.
        torch.distributed.init_process_group("gloo")
        world = World.from_env()
        result["selftest"] = selftest(world)
    for spec in job.get("runs", []):
        probe = Probe()
        host = make_host(plugins=((probe, "probe"),))
        recipe = make_recipe(host, **spec.get("changes", {}))
        run = train(recipe, host=host, run_dir=spec["dir"], resume=spec.get("resume", False),
                    max_steps=spec.get("max_steps"), quiet=True)
        result["runs"].append({
            "dir": spec["dir"], "status": run.status, "step": run.step, "rank": run.rank, "world_size": run.world_size,
            "is_main": run.is_main, "record": run.model.record, "digests": probe.digests,
        })
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank-{result['rank']}.json").write_text(json.dumps(result))
    finish_process()  # as `vidgan run` does under torchrun


if __name__ == "__main__":
    main()
