"""Training health: a model's warnings reach the user once, are logged, and its signals show in the progress line."""

from __future__ import annotations

import warnings

from vidgan_kit.training import TrainingHealthWarning, train

from .toys import make_host, make_recipe, read_metrics


def _run(tmp_path, capsys, warn_below: float, quiet: bool = False):
    host = make_host()
    recipe = make_recipe(host, model={"warn_gain_below": warn_below}, train={"steps": 6, "log_every": 2})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(recipe, host=host, run_dir=tmp_path / "run", quiet=quiet)
    health = [w for w in caught if issubclass(w.category, TrainingHealthWarning)]
    return health, read_metrics(tmp_path / "run"), capsys.readouterr().err


def test_a_problem_is_reported_once_and_logged(tmp_path, capsys):
    health, lines, err = _run(tmp_path, capsys, warn_below=1e9)
    assert len(health) == 1, [str(w.message) for w in health]  # persists at steps 2, 4, 6: reported at 2 only
    assert str(health[0].message).startswith("step 2: gain ")
    assert [m["step"] for m in lines if "warn/low_gain" in m] == [2]
    assert "gain " in err.splitlines()[-1]  # progress_keys: the last diag/gain beside the losses


def test_a_healthy_run_stays_silent(tmp_path, capsys):
    health, lines, _ = _run(tmp_path, capsys, warn_below=-1e9)
    assert health == []
    assert not any(k.startswith("warn/") for m in lines for k in m)
