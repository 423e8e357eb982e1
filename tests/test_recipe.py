import pytest

from vidgan_kit.errors import RecipeError
from vidgan_kit.recipe import (
    LossTerm,
    apply_overrides,
    load_recipe,
    parse_override,
    read_recipe_table,
    validate_recipe,
)


def _issues(table, host) -> list[str]:
    with pytest.raises(RecipeError) as exc:
        validate_recipe(table, host.registry)
    return [str(i) for i in exc.value.issues]


def test_valid_recipe_resolves_slots_and_defaults(host, toy_table):
    recipe = validate_recipe(toy_table, host.registry)
    assert recipe.model.type == "tr_gan"
    gen = recipe.model.params["generator"]
    assert gen["type"] == "tr_conv" and gen["params"] == {"hidden": 4}
    # A slot left out gets its default component, validated and filled in.
    assert recipe.model.params["discriminator"]["type"] == "tr_disc"
    assert recipe.data.params == {"size": 8}
    assert recipe.losses["adv"].weight == 0.5 and recipe.losses["adv"].start == 3
    assert [p.name for p in recipe.phases] == ["discriminator", "generator"]


def test_several_typos_reported_at_once_with_paths(host, toy_table):
    toy_table["model"]["generator"]["hiden"] = 3
    toy_table["model"]["nosie"] = 0.1
    toy_table["train"]["stpes"] = 3
    toy_table["losses"]["recon"]["wieght"] = 1
    toy_table["video"]["frames"] = "many"
    issues = _issues(toy_table, host)
    text = "\n".join(issues)
    assert "model.generator.hiden: unknown key; did you mean hidden?" in text
    assert "model.nosie: unknown key; did you mean noise?" in text
    assert "train.stpes: unknown key; did you mean steps?" in text
    assert "losses.recon.wieght: unknown key; did you mean weight?" in text
    assert any(i.startswith("video.frames:") for i in issues)
    assert len(issues) == 5


def test_unknown_component_type_suggests(host, toy_table):
    toy_table["model"]["discriminator"] = {"type": "tr_dsic"}
    (issue,) = _issues(toy_table, host)
    assert issue.startswith("model.discriminator.type: unknown discriminator component 'tr_dsic'")
    assert "did you mean tr_disc?" in issue and "vidgan list-components --kind discriminator" in issue


def test_wrong_value_type_and_missing_sections(host):
    issues = _issues({"data": {"type": "tr_clips", "size": "lots"}}, host)
    assert any(i.startswith("data.size:") and "'lots'" in i for i in issues)
    assert any(i.startswith("model: required key is missing") for i in issues)


def test_loss_with_no_matching_phase_is_an_error(host, toy_table):
    toy_table["phases"] = [{"name": "generator"}]
    toy_table["losses"] = {"r": {"type": "tr_recon"}}
    validate_recipe(toy_table, host.registry)  # generator-only loss is fine
    toy_table["phases"] = [{"name": "critic"}]
    (issue,) = _issues(toy_table, host)
    assert issue.startswith("losses.r: contributes to phases ['generator']")


def test_duplicate_phase_names_rejected(host, toy_table):
    toy_table["phases"] = [{"name": "generator"}, {"name": "generator"}]
    assert any("unique" in i for i in _issues(toy_table, host))


def test_loss_schedule():
    term = LossTerm(spec={"type": "x"}, weight=10.0, start=100, ramp=10)
    assert term.weight_at(99) == 0.0
    assert term.weight_at(100) == pytest.approx(1.0)
    assert term.weight_at(104) == pytest.approx(5.0)
    assert term.weight_at(109) == 10.0 and term.weight_at(5000) == 10.0
    assert LossTerm(spec={"type": "x"}, enabled=False).weight_at(10) == 0.0


@pytest.mark.parametrize(
    "text,path,value",
    [
        ("train.steps=5", ["train", "steps"], 5),
        ("train.precision=bf16", ["train", "precision"], "bf16"),
        ('model.type="x"', ["model", "type"], "x"),
        ("losses.adv.weight=1e-4", ["losses", "adv", "weight"], 1e-4),
        ("optimizers.generator.betas=[0.0, 0.99]", ["optimizers", "generator", "betas"], [0.0, 0.99]),
        ("train.channels_last=true", ["train", "channels_last"], True),
    ],
)
def test_parse_override(text, path, value):
    assert parse_override(text) == (path, value)


def test_overrides_are_type_checked_like_file_values(host, toy_table):
    table = apply_overrides(toy_table, ["train.steps=7", "model.generator.hidden=6", "losses.adv.start=0"])
    recipe = validate_recipe(table, host.registry)
    assert recipe.train.steps == 7 and recipe.model.params["generator"]["params"]["hidden"] == 6
    assert toy_table["train"]["steps"] == 4  # the original table is untouched
    bad = apply_overrides(toy_table, ["train.steps=soon", "model.generator.hiddn=2"])
    issues = _issues(bad, host)
    assert any(i.startswith("train.steps:") for i in issues)
    assert any(i.startswith("model.generator.hiddn: unknown key; did you mean hidden?") for i in issues)


def test_override_into_a_value_is_an_error(toy_table):
    with pytest.raises(RecipeError, match="train.steps: is a value, not a table"):
        apply_overrides(toy_table, ["train.steps.x=1"])
    with pytest.raises(RecipeError, match="must look like"):
        apply_overrides(toy_table, ["train.steps"])


def test_toml_errors_name_the_file(tmp_path, host):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nsteps = 3\n")
    with pytest.raises(RecipeError) as exc:
        read_recipe_table(bad)
    assert str(bad) in str(exc.value) and "not valid TOML" in str(exc.value)
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "missing.toml", host.registry)


def test_recipe_json_round_trip(host, toy_table):
    recipe = validate_recipe(toy_table, host.registry)
    again = validate_recipe(recipe.to_table(), host.registry)
    assert again == recipe


# -- extends ---------------------------------------------------------------------


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


BASE = """
name = "base"
plugins = ["extra.py"]
[video]
frames = 4
height = 16
width = 16
[data]
type = "synthetic_shapes"
[model]
type = "dual_mtgan"
[model.decoder]
type = "conv_frame_decoder"
base_channels = 8
[losses.reconstruction]
type = "reconstruction"
weight = 10.0
"""


def test_extends_merges_tables_key_by_key(tmp_path):
    _write(tmp_path / "base.toml", BASE)
    (tmp_path / "real").mkdir()
    child = _write(tmp_path / "real" / "child.toml", """
extends = "../base.toml"
name = "child"
[video]
height = 32
[data]
type = "frame_strips"
root = "clips"
[model.decoder]
base_channels = 16
[losses.reconstruction]
weight = 1.0
""")
    table = read_recipe_table(child)
    assert "extends" not in table
    assert table["name"] == "child"
    assert table["video"] == {"frames": 4, "height": 32, "width": 16}
    # another component type replaces the base's table whole: no synthetic_shapes options leak in
    assert table["data"] == {"type": "frame_strips", "root": "clips"}
    # the same type merges: the decoder keeps its type and takes the child's width
    assert table["model"]["decoder"] == {"type": "conv_frame_decoder", "base_channels": 16}
    assert table["losses"]["reconstruction"] == {"type": "reconstruction", "weight": 1.0}
    # the base's .py plugins stay relative to the base's folder
    assert table["plugins"] == [str(tmp_path.resolve() / "extra.py")]


def test_extends_missing_file_loop_and_bad_value_name_the_key(tmp_path):
    child = _write(tmp_path / "child.toml", 'extends = "nowhere.toml"\n')
    with pytest.raises(RecipeError) as exc:
        read_recipe_table(child)
    assert "extends" in str(exc.value) and "nowhere.toml" in str(exc.value)

    _write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    _write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(RecipeError) as exc:
        read_recipe_table(tmp_path / "a.toml")
    assert "loop" in str(exc.value)

    _write(tmp_path / "c.toml", "extends = 3\n")
    with pytest.raises(RecipeError) as exc:
        read_recipe_table(tmp_path / "c.toml")
    assert "extends" in str(exc.value)


def test_extended_recipe_validates_like_the_merged_one(host, tmp_path):
    _write(tmp_path / "base.toml", BASE.replace('plugins = ["extra.py"]\n', ""))
    child = _write(tmp_path / "child.toml", 'extends = "base.toml"\n[video]\nheight = 32\nwidth = 32\n')
    recipe = load_recipe(child, host.registry)
    assert (recipe.video.height, recipe.video.width) == (32, 32)
    assert recipe.model.params["decoder"]["params"]["base_channels"] == 8
