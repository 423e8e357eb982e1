def test_validate_ok(cli, toy_recipe):
    result = cli("validate", str(toy_recipe))
    assert result.exit_code == 0, result.output
    assert "is valid" in result.stdout and "tr_gan" in result.stdout


def test_validate_reports_every_problem_with_paths(cli, toy_recipe):
    text = toy_recipe.read_text().replace("hidden = 4", "hiden = 4").replace("steps = 4", "stpes = 4")
    toy_recipe.write_text(text)
    result = cli("validate", str(toy_recipe))
    assert result.exit_code == 2
    err = result.stderr
    assert "2 problems" in err
    assert "model.generator.hiden: unknown key; did you mean hidden?" in err
    assert "train.stpes: unknown key; did you mean steps?" in err
    assert "Traceback" not in result.output


def test_validate_with_overrides(cli, toy_recipe):
    assert cli("validate", str(toy_recipe), "--set", "train.steps=9").exit_code == 0
    result = cli("validate", str(toy_recipe), "--set", "train.steps=lots", "--set", "model.noise=-1")
    assert result.exit_code == 2
    assert "train.steps" in result.stderr and "model.noise" in result.stderr


def test_recipe_plugins_list_loads_relative_file(cli, tmp_path, toy_table):
    from tests.cli.conftest import toml_dump

    (tmp_path / "extra_plugin.py").write_text(
        "from vidgan_kit import ComponentConfig, hookimpl\nfrom vidgan_kit.interfaces import Loss\n\n"
        "class C(ComponentConfig):\n    scale: float = 1.0\n\n"
        "class Extra(Loss):\n    Config = C\n    def __init__(self, config):\n        super().__init__()\n"
        "    def forward(self, ctx, phase):\n        return ctx.outputs['fake'].mean()\n\n"
        "@hookimpl\ndef vidgan_register_components(registry):\n    registry.add('loss', 'extra_loss', Extra)\n"
    )
    toy_table["plugins"] = ["extra_plugin.py"]
    toy_table["losses"]["extra"] = {"type": "extra_loss", "scale": 2.0}
    recipe = tmp_path / "with_plugin.toml"
    recipe.write_text(toml_dump(toy_table))
    result = cli("validate", str(recipe))
    assert result.exit_code == 0, result.output
    assert "extra_loss" in result.stdout


def test_run_dry_run_builds_without_writing(cli, toy_recipe, tmp_path):
    out = tmp_path / "runs" / "dry"
    result = cli("run", str(toy_recipe), "--dry-run", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "parameters" in result.stdout and "generator" in result.stdout and "tr_conv" in result.stdout
    assert "dataset: 8 clips" in result.stdout
    assert not out.exists()
