"""The breach forecast against the count a supervisor had before it, on a generated month.

    .venv/bin/python benchmarks/forecast_backtest.py [--seed 13] [--days 30]

Generates a month of one queue (steady load, a daily surge, agents going off queue; see
workitems/services/forecast_backtest.py), replays it hour by hour, and prints per phase the mean
absolute error per hour of "forecast to breach in the next hour" and of the baseline (the items due
within the hour, the dashboard's "breaching in the next 60 min"), both measured in this run, and
their ratio (below 1: the forecast is closer). Needs no database.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from workitems.services.forecast_backtest import backtest, generate_month, summarise

    results = backtest(generate_month(seed=args.seed, days=args.days), days=args.days)
    print(
        f"{'phase':<10}{'hours':>6}{'breaches':>9}{'forecast MAE/h':>16}{'baseline MAE/h':>16}"
        f"{'ratio':>7}"
    )
    for s in summarise(results):
        ratio = f"{s.mae / s.baseline_mae:.2f}" if s.baseline_mae else "—"
        print(
            f"{s.phase:<10}{s.hours:>6}{s.actual:>9}{s.mae:>16.2f}{s.baseline_mae:>16.2f}{ratio:>7}"
        )


if __name__ == "__main__":
    main()
