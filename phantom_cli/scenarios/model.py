"""The scenario model (what a file says) and the result model (what a run found).

Results are plain dataclasses with ``to_dict()``: the JSON report, JUnit report, the console and
other tools (record, compare, coverage) read the same objects. Each step keeps the actual values
of its turn (``StepResult.actual``: reply, state, score, outcome, flags, status, error.code) and
its latency.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# Every key ``expect:`` accepts, in dotted form (the nested form is flattened to these).
EXPECT_KEYS = (
    "state", "decision", "score", "score_delta", "outcome", "machine_completed", "unlocked",
    "follow_up", "redirect_count",
    "moderation.inbound_prohibited", "moderation.outbound_filtered",
    "memory.retrieved_count", "memory.profile_used", "extraction_enqueued",
    "reply.contains", "reply.not_contains", "reply.matches", "reply.max_chars", "reply.equals",
    "status", "error.code",
    # top-level names of the nested forms
    "moderation", "memory", "reply", "error",
)  # fmt: skip


@dataclass
class Target:
    kind: Literal["npc", "persona", "activity"]
    id: str  # persona id (npc), persona name or file (persona), activity id
    machine: str | None = None
    player_name: str | None = None
    player_gender: str | None = None
    persona: dict[str, Any] | None = None  # companion persona (validated)
    chat_id: str | None = None  # a prefix; the run adds a unique suffix
    error: str | None = None  # the target cannot be used (a persona file that does not load)

    def label(self) -> str:
        if self.kind == "npc":
            return f"npc {self.id}" + (f" ({self.machine})" if self.machine else "")
        return f"{self.kind} {self.id}"


@dataclass
class Step:
    index: int  # 1-based
    kind: Literal["say", "reset", "wait_for_extraction", "scratchpad", "vars"]
    line: int
    value: Any
    expect: dict[str, Any] = field(default_factory=dict)  # dotted keys
    expect_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class Scenario:
    name: str
    file: str
    line: int
    target: Target
    vars: dict[str, Any]
    steps: list[Step]

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


@dataclass
class Suite:
    file: str
    scenarios: list[Scenario]


# --------------------------------------------------------------------------- results


@dataclass
class Failure:
    """One expectation that did not hold (or an error that ended the scenario)."""

    expectation: str  # e.g. "score", "reply.contains", "error" for a run-time error
    expected: Any
    actual: Any
    message: str
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StepResult:
    index: int
    kind: str
    line: int
    sent: str | None = None  # the message after templating
    actual: dict[str, Any] = field(default_factory=dict)  # flattened actual values of the turn
    latency_ms: float | None = None
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


Status = Literal["passed", "failed", "error", "interrupted"]


@dataclass
class ScenarioResult:
    name: str
    file: str
    line: int
    target: str
    attempt: int  # 1..repeat
    status: Status
    duration_ms: float
    steps_run: int
    failure: Failure | None = None  # the first failure (a scenario stops at it)
    failed_step: int | None = None
    steps: list[StepResult] | None = None  # kept when the runner keeps steps (or on failure)
    ids: dict[str, str] = field(default_factory=dict)  # session/chat/instance ids used

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "file": self.file, "line": self.line, "target": self.target,
            "attempt": self.attempt, "status": self.status, "duration_ms": round(self.duration_ms, 3),
            "steps_run": self.steps_run, "failed_step": self.failed_step,
            "failure": self.failure.to_dict() if self.failure else None,
            "steps": [s.to_dict() for s in self.steps] if self.steps is not None else None,
            "ids": self.ids,
        }  # fmt: skip


@dataclass
class RunSummary:
    results: list[ScenarioResult]
    duration_s: float
    seed: int | None
    repeat: int
    min_pass_rate: float
    interrupted: bool = False
    stopped_early: bool = False  # -x

    def pass_rates(self) -> dict[str, tuple[int, int]]:
        """scenario id -> (passed, attempts)."""
        out: dict[str, tuple[int, int]] = {}
        for r in self.results:
            p, n = out.get(r.id, (0, 0))
            out[r.id] = (p + (r.status == "passed"), n + 1)
        return out

    def scenario_passed(self, sid: str) -> bool:
        p, n = self.pass_rates()[sid]
        if self.repeat <= 1:
            return p == n
        return n > 0 and p / n >= self.min_pass_rate

    @property
    def ok(self) -> bool:
        return all(self.scenario_passed(s) for s in self.pass_rates()) and not self.interrupted

    def counts(self) -> dict[str, int]:
        c = {"passed": 0, "failed": 0, "error": 0, "interrupted": 0}
        for r in self.results:
            c[r.status] += 1
        return c
