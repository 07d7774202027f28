"""Scenario tests for companions and NPCs (``phantom test``): files, runner, reports.

See docs/scenarios.md for the ``phantom-scenario/1`` format.
"""

from __future__ import annotations

from .load import ScenarioFileError, discover, load_suite, load_text, schema
from .model import Failure, RunSummary, Scenario, ScenarioResult, Step, StepResult, Suite, Target
from .runner import Runner, RunOptions

__all__ = [
    "Failure", "RunOptions", "RunSummary", "Runner", "Scenario", "ScenarioFileError",
    "ScenarioResult", "Step", "StepResult", "Suite", "Target", "discover", "load_suite",
    "load_text", "schema",
]  # fmt: skip
