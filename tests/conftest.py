"""Shared pytest setup: the hypothesis profile.

``ci`` (the default) is bounded and derandomized, so the suite is fast and repeatable;
``HYPOTHESIS_PROFILE=thorough python -m pytest`` runs ten times the examples of every
property test whose budget is given with ``fnad.testing.strategies.max_examples``.
"""

from __future__ import annotations

import os

from hypothesis import settings

from fnad.testing.strategies import register_profiles

register_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
