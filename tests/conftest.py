"""Hypothesis profiles for the property tests: `fast` by default, `thorough` on request.

    HYPOTHESIS_PROFILE=thorough .venv/bin/python -m pytest tests/triggers/test_hostile_input.py \\
        tests/host/test_hostile_input.py

`fast` keeps `make test` quick: a few dozen examples per door still find a door that answers 500.
`thorough` runs 1,000 examples per door. Tests that set max_examples themselves keep their own.
Every example is an HTTP round trip whose time varies on a shared machine, so neither has a deadline.
"""

import os

from hypothesis import HealthCheck, settings

# The doors are served by one host per module (fixtures outlive examples, by design).
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}
settings.register_profile("fast", max_examples=25, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
