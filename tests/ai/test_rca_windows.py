"""An analysis' window and baseline with the defaults filled in (services/ai/rca/gather.py): an empty default
window or a baseline that overlaps it is a 422, never an analysis of nothing reported as `nothing_anomalous`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ai.rca.gather import resolve_windows
from services.ai.rca.model import Window
from vigil.runtime.errors import ValidationFailed

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def test_the_defaults_are_an_hour_before_at_to_15_minutes_after_then_a_day_before():
    window, baseline = resolve_windows(NOW - 2 * H, None, None, 60, 24, NOW)
    assert window == Window(NOW - 3 * H, NOW - 2 * H + 15 * M)
    assert baseline == Window(NOW - 27 * H, NOW - 3 * H)
    assert resolve_windows(NOW + 30 * M, None, None, 60, 24, NOW)[0] == Window(NOW - 30 * M, NOW)  # never past now


@pytest.mark.parametrize("ahead", [H, 2 * H, 200 * 365 * 24 * H])
def test_an_at_beyond_the_lookback_in_the_future_is_refused(ahead):
    with pytest.raises(ValidationFailed) as refused:
        resolve_windows(NOW + ahead, None, None, 60, 24, NOW)
    assert [f.field for f in refused.value.fields] == ["at"]


def test_a_baseline_sent_without_a_window_must_not_overlap_the_default_window():
    with pytest.raises(ValidationFailed) as refused:
        resolve_windows(NOW - H, None, Window(NOW - 90 * M, NOW - 30 * M), 60, 24, NOW)
    assert [f.field for f in refused.value.fields] == ["baseline.end"]
    known_good = Window(NOW - 30 * H, NOW - 6 * H)
    assert resolve_windows(NOW - H, None, known_good, 60, 24, NOW)[1] == known_good
