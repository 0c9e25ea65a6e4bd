"""Shared set-up for the unit tests of the plugins: make the record helpers importable."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# Property tests (hypothesis): few, reproducible examples, so that the suite stays fast and a
# failure in CI is the same failure on a laptop. No example database in the checkout.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("hyperv", max_examples=75, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=3000, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "hyperv"))
