"""The progress display's expected-duration line."""

from __future__ import annotations

import pytest

from vidgan_kit.training.logging import DurationEstimate, format_duration


@pytest.mark.parametrize(("seconds", "text"), [
    (0.2, "1 s"), (40, "40 s"), (89, "89 s"), (90, "2 min"), (12 * 60, "12 min"), (100 * 60, "1.7 h"),
    (3.54 * 3600, "3.5 h"), (11.4 * 3600, "11 h"), (50 * 3600, "2.1 days"),
])
def test_durations_read_in_a_readers_unit(seconds, text):
    assert format_duration(seconds) == text


def test_the_line_counts_the_sessions_steps_and_suggests_a_faster_way_only_when_long():
    assert DurationEstimate(0, 20000, "cpu").line(2.0) == (
        "about 11 h for 20000 steps on this CPU (2 s a step); a GPU or recipes/quick.toml is faster")
    assert DurationEstimate(19000, 20000, "cpu").line(2.0) == "about 33 min for 1000 steps on this CPU (2 s a step)"
    assert DurationEstimate(0, 20000, "cuda").line(2.0) == "about 11 h for 20000 steps on this GPU (2 s a step)"


def test_the_line_comes_once_after_the_timed_steps():
    estimate = DurationEstimate(10, 100, "cpu", skip=1, measure=3)
    lines = [estimate.step_done(step) for step in range(11, 101)]
    assert [i + 11 for i, line in enumerate(lines) if line] == [14]  # steps 12..14 timed, from the end of step 11
    assert DurationEstimate(0, 4, "cpu", skip=1, measure=3).step_done(4) is None  # the run is over: nothing to say
