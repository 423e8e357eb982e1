import json
import subprocess
import sys

from vidgan_kit import __version__
from vidgan_kit.testing import registered_plugin


def test_list_components_table_and_filters(cli):
    result = cli("list-components")
    assert result.exit_code == 0, result.output
    for name in ("tr_clips", "tr_gan", "frame_difference_video_discriminator"):
        assert name in result.stdout
    result = cli("list-components", "--kind", "loss")
    assert "tr_hinge_d" in result.stdout and "tr_gan" not in result.stdout
    result = cli("list-components", "tr_*", "--json")
    rows = json.loads(result.stdout)
    assert {r["name"] for r in rows} == {"tr_clips", "tr_conv", "tr_disc", "tr_gan", "tr_recon", "tr_hinge_d",
                                         "tr_hinge_g", "tr_constant", "tr_counting", "tr_nan_at"}
    assert all(r["plugin"] == "toy" for r in rows)


def test_list_components_unknown_kind(cli):
    result = cli("list-components", "--kind", "discriminatr")
    assert result.exit_code == 2
    assert "did you mean discriminator" in result.stderr
    assert "Traceback" not in result.output


def test_show_component_lists_options(cli):
    result = cli("show-component", "tr_gan")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "generator" in out and "decoder component" in out and "tr_conv" in out
    assert "noise" in out and "Input noise (drawn from the global RNG)." in out and "plugin 'toy'" in out


def test_show_component_unknown_suggests(cli):
    result = cli("show-component", "tr_gna")
    assert result.exit_code == 2 and "Did you mean tr_gan" in result.stderr


def test_plugins_command(cli):
    result = cli("plugins")
    assert result.exit_code == 0, result.output
    assert "example_discriminator" in result.stdout and "vidgan-example-discriminator" in result.stdout
    assert "dual_mtgan" in result.stdout and "toy" in result.stdout


def test_schema_includes_plugin_components(cli):
    result = cli("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    models = schema["$defs"]["component_model"]["oneOf"]
    toy = next(m for m in models if m["properties"]["type"]["const"] == "tr_gan")
    assert toy["properties"]["generator"]["$ref"] == "#/$defs/component_decoder"
    assert toy["additionalProperties"] is False
    discs = {d["properties"]["type"]["const"] for d in schema["$defs"]["component_discriminator"]["oneOf"]}
    assert "frame_difference_video_discriminator" in discs
    loss = schema["$defs"]["component_loss"]["oneOf"][0]
    assert {"weight", "start", "ramp"} <= set(loss["properties"])


def test_version_and_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "vidgan_kit", "--version"], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == f"vidgan-kit {__version__}"


def test_console_script_reports_user_errors_without_traceback(tmp_path):
    missing = tmp_path / "nope.toml"
    proc = subprocess.run(["vidgan", "validate", str(missing)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_bad_plugin_on_command_line_is_a_clear_error(tmp_path):
    proc = subprocess.run(["vidgan", "--plugin", str(tmp_path / "ghost.py"), "plugins"], capture_output=True, text=True)
    assert proc.returncode == 2 and "ghost.py" in proc.stderr and "Traceback" not in proc.stderr


def test_plugin_can_add_a_command(tmp_path):
    plugin = tmp_path / "hello_plugin.py"
    plugin.write_text(
        "import typer\nfrom vidgan_kit import hookimpl\n\n"
        "@hookimpl\ndef vidgan_register_commands(app):\n"
        "    @app.command('hello')\n    def hello(name: str = 'world'):\n        print(f'hello {name}')\n"
    )
    proc = subprocess.run(["vidgan", "--plugin", str(plugin), "hello", "--name", "video"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hello video"


def test_list_components_and_schema_show_a_kind_a_plugin_adds(cli, host):
    from tests.testing.keypoint_kind import KIND, KeypointPlugin

    with registered_plugin(KeypointPlugin(), "keypoints", host):
        listed = cli("list-components", "--kind", KIND, "--json")
        schema = cli("schema")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert {(r["kind"], r["name"], r["plugin"]) for r in rows} == {
        (KIND, "colour_points", "keypoints"), (KIND, "not_a_detector", "keypoints")}
    points = json.loads(schema.stdout)["$defs"][f"component_{KIND}"]["oneOf"]
    assert {p["properties"]["type"]["const"] for p in points} == {"colour_points", "not_a_detector"}
