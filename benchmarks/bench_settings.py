"""Settings for benchmarks/ingest.py: the portal's own, with a URLconf that adds the baseline."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bench_urls"
