"""Real-format data sets inside DataLoader workers, and registration through the plugin."""

from __future__ import annotations

from pathlib import Path

import torch
from clip_files import GEOMETRY, frame_indices, indexed_frames, write_strip
from torch.utils.data import DataLoader


def test_dataloader_with_two_spawned_workers(tmp_path: Path, registry) -> None:
    for cls in ("a", "b"):
        for i in range(3):
            write_strip(tmp_path / cls / f"{i}.png", indexed_frames(8, first=i))
    ds = registry.build(
        "dataset", "frame_strips", {"root": str(tmp_path), "test_fraction": 0, "random_start": False},
        geometry=GEOMETRY, split="train", seed=0,
    )
    # spawn, not fork: the data set must be picklable and hold no open files
    loader = DataLoader(ds, batch_size=2, num_workers=2, multiprocessing_context="spawn")
    batches = list(loader)
    videos = torch.cat([b["video"] for b in batches])
    labels = torch.cat([b["label"] for b in batches])
    assert videos.shape == (6, *GEOMETRY.clip_shape)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert [frame_indices(v)[0] for v in videos] == [0, 1, 2, 0, 1, 2]
    assert torch.equal(videos[4], ds[4]["video"])


def test_synthetic_shapes_in_workers(registry) -> None:
    ds = registry.build(
        "dataset", "synthetic_shapes", {"clips": 4}, geometry=GEOMETRY, split="train", seed=3
    )
    # spawn: a forked worker of a process that already runs threads (the browser tests') can hang
    batch = next(iter(DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context="spawn")))
    assert torch.equal(batch["video"][2], ds[2]["video"])


def test_datasets_are_registered_by_the_builtin_plugin(registry) -> None:
    names = {"synthetic_shapes", "frame_strips", "frame_folders", "video_files", "numpy_arrays", "video_folder"}
    entries = {e.name: e for e in registry.list("dataset")}
    assert names <= set(entries)
    assert {entries[n].plugin for n in names} == {"builtin_data"}
