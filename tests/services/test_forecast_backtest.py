"""The backtest replays a generated month and prints the forecast's error per hour; over the month
the forecast is closer to what breached than the count of items due within the hour."""

from io import StringIO

from django.core.management import call_command

from workitems.services.forecast_backtest import backtest, generate_month, summarise


def test_the_generated_month_serves_by_priority_then_age():
    items = generate_month(days=2)
    started = sorted((i for i in items if i.started is not None), key=lambda i: i.started)
    for a, b in zip(started, started[1:], strict=False):
        # Whoever started later and had arrived when the earlier one started ranks no higher.
        if b.arrived <= a.started and b.started > a.started:
            assert (-b.priority, b.arrived) >= (-a.priority, a.arrived)


def test_over_the_month_the_forecast_beats_the_due_within_the_hour_count():
    by_phase = {s.phase: s for s in summarise(backtest(generate_month()))}
    assert by_phase["steady"].actual == 0 and by_phase["steady"].mae == 0
    assert by_phase["surge"].actual > 0 and by_phase["off queue"].actual > 0
    assert by_phase["all"].mae < by_phase["all"].baseline_mae


def test_the_command_prints_every_hour_and_the_summary():
    out = StringIO()
    call_command("backtest_forecast", days=2, stdout=out)
    lines = out.getvalue().splitlines()
    assert sum(1 for line in lines if line.startswith("2026-01-02")) == 23
    assert any(line.startswith("all") for line in lines)
