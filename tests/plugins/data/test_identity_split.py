"""split_mode = "by_identity": whole identities held out, by a pattern, a divisor or a manifest."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from clip_files import GEOMETRY, indexed_frames, write_strip

from tests._actors import NUMBERED, write_actor_strips
from vidgan_kit.errors import DataError, RecipeError
from vidgan_kit.recipe import validate_recipe

REPO = Path(__file__).resolve().parents[3]


def build(registry, params: dict, split: str):
    return registry.build("dataset", "frame_strips", params, geometry=GEOMETRY, split=split, seed=0)


def both(registry, params: dict):
    return build(registry, params, "train"), build(registry, params, "test")


@pytest.fixture
def actors(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """Five actors, four actions each, named as MoCoGAN's Weizmann strips."""
    return tmp_path, write_actor_strips(tmp_path, range(5), frames=6, size=8)


def test_the_train_split_never_holds_a_test_identity(registry, actors) -> None:
    root, actor_of = actors
    params = {"root": str(root), "split_mode": "by_identity", **NUMBERED, "test_identities": [1, 3]}
    train, test = both(registry, params)
    # Read off the file names, independently of the data set's own bookkeeping.
    train_actors = {actor_of[ref.name] for ref, *_ in train.clips}
    test_actors = {actor_of[ref.name] for ref, *_ in test.clips}
    assert train_actors == {0, 2, 4} and test_actors == {1, 3}
    assert sorted(ref.name for ref, *_ in test.clips) == sorted(n for n, a in actor_of.items() if a in (1, 3))
    assert all((lo, hi) == (0, ref.frames) for ref, lo, hi, _ in test.clips)  # whole clips, every frame
    assert train.identities == ["0", "2", "4"] and test.identities == ["1", "3"]
    assert train.test_identities == test.test_identities == ["1", "3"]
    for i in range(len(train)):  # every item, train_repeats included
        assert train.item_info(i)["identity"] not in ("1", "3")
    info = test.item_info(0)
    assert info["identity"] == str(actor_of[info["clip"]]) and info["class"] == info["clip"].split("/")[0]


def test_the_weizmann_recipe_holds_out_actors_5_and_6_in_both_layouts(registry, tmp_path: Path) -> None:
    table = tomllib.loads((REPO / "recipes" / "weizmann.toml").read_text())["data"]
    numbered = tmp_path / "mocogan"
    actor_of = write_actor_strips(numbered, range(7), frames=6, size=8)
    train, test = both(registry, {**{k: v for k, v in table.items() if k != "type"}, "root": str(numbered)})
    assert test.identities == ["5", "6"] and train.identities == ["0", "1", "2", "3", "4"]
    assert {actor_of[ref.name] for ref, *_ in test.clips} == {5, 6} and len(test.clips) == 8

    # The folder `vidgan data prepare weizmann` writes: action/person_action.png; identities are names.
    prepared = tmp_path / "prepared"
    for person in ("daria", "ido", "lena"):
        for action in ("bend", "run"):
            write_strip(prepared / action / f"{person}_{action}{'1' if person == 'lena' else ''}.png",
                        indexed_frames(6))
    params = {**{k: v for k, v in table.items() if k != "type"}, "root": str(prepared)}
    with pytest.raises(DataError, match=r"test_identities '5', '6' match no clip .* identities are daria, ido, lena"):
        build(registry, params, "test")
    test = build(registry, {**params, "test_identities": ["lena"]}, "test")
    assert test.identities == ["lena"] and sorted(r.name for r, *_ in test.clips) == ["bend/lena_bend1.png",
                                                                                       "run/lena_run1.png"]


def test_a_fraction_of_the_identities_by_a_seeded_hash(registry, actors) -> None:
    root, _ = actors
    base = {"root": str(root), "split_mode": "by_identity", **NUMBERED}
    choices = set()
    for seed in range(6):
        train, test = both(registry, {**base, "test_fraction": 0.4, "split_seed": seed})
        assert len(test.identities) == 2 and not set(test.identities) & set(train.identities)
        assert set(test.identities) | set(train.identities) == {"0", "1", "2", "3", "4"}
        assert build(registry, {**base, "test_fraction": 0.4, "split_seed": seed}, "test").identities == test.identities
        choices.add(tuple(test.identities))
    assert len(choices) > 1, "split_seed should change which identities are held out"
    assert len(build(registry, base, "test").identities) == 1  # default 0.2 of 5; at least one
    assert len(build(registry, {**base, "test_fraction": 0.0}, "test").identities) == 1


def test_a_manifest_maps_clips_to_identities_and_wins_over_the_pattern(registry, tmp_path: Path) -> None:
    for name in ("anna_1", "anna_2", "ben_1", "cleo_1"):
        write_strip(tmp_path / "clips" / f"{name}.png", indexed_frames(6))
    stack = np.stack([indexed_frames(6), indexed_frames(6, first=1)])
    np.save(tmp_path / "clips" / "dan.npy", stack)  # one file, two clips: one identity for both
    (tmp_path / "who.json").write_text(json.dumps({"clips/ben_1.png": "anna", "clips/dan.npy": "dan"}))
    params = {"root": str(tmp_path), "split_mode": "by_identity", "identity_manifest": "who.json",
              "identity_pattern": r"/(?P<identity>[a-z]+)_", "test_identities": ["anna"]}
    test = registry.build("dataset", "video_folder", params, geometry=GEOMETRY, split="test", seed=0)
    train = registry.build("dataset", "video_folder", params, geometry=GEOMETRY, split="train", seed=0)
    assert sorted(r.name for r, *_ in test.clips) == ["clips/anna_1.png", "clips/anna_2.png", "clips/ben_1.png"]
    assert train.identities == ["cleo", "dan"] and sum(r.name.startswith("clips/dan.npy") for r, *_ in train.clips) == 2


def test_other_split_modes_ignore_the_identity_options(registry, actors) -> None:
    root, _ = actors
    params = {"root": str(root), "split_mode": "by_clip", **NUMBERED, "test_identities": ["1"]}
    train, test = both(registry, params)
    assert len(train.clips) + len(test.clips) == 20 and test.identities == train.identities == []
    assert test.item_info(0)["identity"] is None


@pytest.mark.parametrize(("data", "path", "message"), [
    ({"split_mode": "by_identity"}, "data.identity_pattern", "needs identity_pattern or identity_manifest"),
    ({"identity_pattern": "(?P<who>x)"}, "data.identity_pattern", "needs a named group `identity`"),
    ({"identity_pattern": "(?P<identity>x"}, "data.identity_pattern", "not a regular expression"),
    ({"identity_divisor": 8}, "data.identity_divisor", "set identity_pattern"),
    ({"identity_pattern": "(?P<identity>x)", "identity_divisor": 0}, "data.identity_divisor", "greater than or equal"),
    ({"split_mode": "by_identity", **NUMBERED, "test_identities": []}, "data.test_identities", "is empty"),
    ({"split_mode": "by_identity", **NUMBERED, "test_identities": [5, "5"]}, "data.test_identities",
     "names 5 more than once"),
    ({"split_mode": "by_identity", **NUMBERED, "test_identities": [5], "test_fraction": 0.2}, "data.test_fraction",
     "not both"),
])
def test_bad_identity_options_are_recipe_errors_at_their_key(registry, data: dict, path: str, message: str) -> None:
    table = {"name": "x", "video": {"frames": 4, "height": 16, "width": 16},
             "data": {"type": "frame_strips", "root": "clips", **data}, "model": {"type": "dual_mtgan"}}
    with pytest.raises(RecipeError) as caught:
        validate_recipe(table, registry)
    assert any(issue.path == path and message in issue.message for issue in caught.value.issues), caught.value


def test_identity_problems_found_on_disk_name_the_clips_and_the_key(registry, actors, tmp_path: Path) -> None:
    root, _ = actors
    base = {"root": str(root), "split_mode": "by_identity", **NUMBERED}
    with pytest.raises(DataError, match=r"test_identities '9' match no clip .* identities are 0, 1, 2, 3, 4"):
        build(registry, {**base, "test_identities": [9]}, "train")
    with pytest.raises(DataError, match=r"hold out every identity .* the train split would be empty"):
        build(registry, {**base, "test_identities": [0, 1, 2, 3, 4]}, "test")
    write_strip(root / "extra" / "walk.png", indexed_frames(6))
    with pytest.raises(DataError, match=r"no identity for 1 clip\(s\) .* identity_pattern .*'extra/walk.png'"):
        build(registry, base, "train")

    one = tmp_path / "one"
    write_actor_strips(one, [2], frames=6, size=8)
    with pytest.raises(DataError, match="needs two identities or more; the clips under .* have 2"):
        build(registry, {**base, "root": str(one)}, "test")
    manifest = {"root": str(one), "split_mode": "by_identity", "identity_manifest": "who.json"}
    with pytest.raises(DataError, match=r"identity_manifest .*who.json' does not exist"):
        build(registry, manifest, "test")
    (one / "who.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="must be a JSON object mapping clip paths to identities"):
        build(registry, manifest, "test")
    (one / "who.json").write_text('{"0/00000016.png": 2.5}')
    with pytest.raises(DataError, match="identities are strings or whole numbers"):
        build(registry, manifest, "test")
    (one / "who.json").write_text("{oops")
    with pytest.raises(DataError, match="cannot read identity_manifest"):
        build(registry, manifest, "test")
