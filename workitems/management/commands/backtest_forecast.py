from django.core.management.base import BaseCommand

from workitems.services.forecast_backtest import backtest, generate_month, summarise


class Command(BaseCommand):
    help = (
        "Backtest the breach forecast on a generated month (steady, a surge, agents off queue): "
        "forecast vs actual breaches in the next hour, for every hour, and the error per phase."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--summary-only", action="store_true")

    def handle(self, *args, seed, days, summary_only, **options):
        results = backtest(generate_month(seed=seed, days=days), days=days)
        if not summary_only:
            self.stdout.write("hour (UTC)        phase      waiting forecast actual error baseline")
            for r in results:
                self.stdout.write(
                    f"{r.at:%Y-%m-%d %H:%M}  {r.phase:<9} {r.waiting:>7} {r.forecast:>8} "
                    f"{r.actual:>6} {r.error:>+5} {r.baseline:>8}"
                )
        self.stdout.write(
            "\nphase      hours  breaches  forecast MAE/h  bias/h  exact hours  "
            "baseline MAE/h (due within 60 min)"
        )
        for s in summarise(results):
            self.stdout.write(
                f"{s.phase:<9} {s.hours:>6} {s.actual:>9} {s.mae:>15.2f} {s.bias:>+7.2f} "
                f"{s.exact_share:>11.0%}  {s.baseline_mae:>8.2f}"
            )
