"""``phantom test compare``: run one suite against two sides and show, step by step, what differs.

A side is a client (a profile, or a local backend spawned with another engine) and optionally a
companion persona that replaces the scenarios' own. Both sides run with the same seed, so every
scenario gets the same ids on both and the scripted engine answers the same when nothing else
differs. The result model is the runner's (:class:`RunSummary` with every step's actual values
and latency); this module only lines the two up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .model import RunSummary, Scenario, ScenarioResult

# the fields compared (actual values of a turn); latency is shown and flagged separately
FIELDS = (
    "status", "error.code", "reply", "state", "decision", "score", "score_delta", "outcome",
    "machine_completed", "unlocked", "redirect_count", "follow_up",
    "moderation.inbound_prohibited", "moderation.outbound_filtered", "memory.retrieved_count",
    "extraction_enqueued",
)  # fmt: skip
LATENCY_RATIO = 2.0  # latency "differs" when one side is this many times slower …
LATENCY_MIN_MS = 100.0  # … and at least this much slower
MAX_SHOWN = 200  # characters of a reply shown


@dataclass
class Side:
    label: str
    client: Any = None
    persona: dict[str, Any] | None = None  # replaces companion scenarios' persona
    persona_label: str | None = None
    closer: Any = None  # called after the run (a spawned backend's stop)
    shared: bool = False  # both sides on one backend: this side gets ids of its own


def with_persona(scenarios: list[Scenario], persona: dict[str, Any] | None, name: str | None) -> list[Scenario]:
    """The scenarios with every companion persona replaced (NPC / activity scenarios unchanged)."""
    if persona is None:
        return scenarios
    out = []
    for sc in scenarios:
        if sc.target.kind == "persona":
            t = dataclasses.replace(sc.target, persona=dict(persona), id=name or sc.target.id, error=None)
            sc = dataclasses.replace(sc, target=t)
        out.append(sc)
    return out


@dataclass
class StepDiff:
    index: int
    kind: str
    sent: str | None
    a: dict[str, Any]
    b: dict[str, Any]
    latency: tuple[float | None, float | None]
    fields: list[str] = field(default_factory=list)  # fields that differ
    latency_differs: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "sent": self.sent, "differs": self.fields,
                "latency_ms": list(self.latency), "latency_differs": self.latency_differs,
                "a": {k: self.a.get(k) for k in self.fields}, "b": {k: self.b.get(k) for k in self.fields}}


@dataclass
class ScenarioDiff:
    id: str
    status: tuple[str | None, str | None]
    steps: list[StepDiff]
    failure: tuple[str | None, str | None] = (None, None)

    @property
    def differs(self) -> bool:
        return self.status[0] != self.status[1] or any(s.fields for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": list(self.status), "differs": self.differs,
                "failure": list(self.failure), "steps": [s.to_dict() for s in self.steps]}


@dataclass
class Comparison:
    a: str
    b: str
    scenarios: list[ScenarioDiff]
    durations: tuple[float, float] = (0.0, 0.0)

    @property
    def differing(self) -> list[ScenarioDiff]:
        return [s for s in self.scenarios if s.differs]

    def latency_stats(self) -> tuple[float | None, float | None]:
        def med(xs: list[float]) -> float | None:
            xs = sorted(xs)
            return xs[len(xs) // 2] if xs else None

        la = [s.latency[0] for sc in self.scenarios for s in sc.steps if s.latency[0] is not None]
        lb = [s.latency[1] for sc in self.scenarios for s in sc.steps if s.latency[1] is not None]
        return med(la), med(lb)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        ma, mb = self.latency_stats()
        return {"format": "phantom-test-compare/1", "a": self.a, "b": self.b,
                "scenarios": len(self.scenarios), "differing": len(self.differing),
                "median_latency_ms": [ma, mb], "results": [s.to_dict() for s in self.scenarios]}


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(x, bool) and not isinstance(y, bool):
        return abs(float(x) - float(y)) < 1e-9
    if isinstance(x, str) and isinstance(y, str):
        return x.strip() == y.strip()
    return x == y


def _latency_differs(la: float | None, lb: float | None) -> bool:
    if la is None or lb is None:
        return False
    lo, hi = sorted((la, lb))
    return hi - lo >= LATENCY_MIN_MS and hi >= lo * LATENCY_RATIO


def compare(a: RunSummary, b: RunSummary, label_a: str = "A", label_b: str = "B") -> Comparison:
    by_b: dict[str, ScenarioResult] = {r.id: r for r in b.results}
    seen: set[str] = set()
    out: list[ScenarioDiff] = []
    for ra in a.results:
        rb = by_b.get(ra.id)
        seen.add(ra.id)
        out.append(_scenario(ra, rb))
    for rb in b.results:
        if rb.id not in seen:
            out.append(_scenario(None, rb))
    return Comparison(label_a, label_b, out, (a.duration_s, b.duration_s))


def _scenario(ra: ScenarioResult | None, rb: ScenarioResult | None) -> ScenarioDiff:
    sa = {s.index: s for s in (ra.steps or [])} if ra else {}
    sb = {s.index: s for s in (rb.steps or [])} if rb else {}
    steps: list[StepDiff] = []
    for i in sorted(set(sa) | set(sb)):
        x, y = sa.get(i), sb.get(i)
        ref = x or y
        assert ref is not None
        ax, ay = (x.actual if x else {}), (y.actual if y else {})
        diff = [k for k in FIELDS if (k in ax or k in ay) and not _same(ax.get(k), ay.get(k))]
        if x is None or y is None:
            diff = diff or ["(step ran on one side only)"]
        lat = (x.latency_ms if x else None, y.latency_ms if y else None)
        steps.append(StepDiff(i, ref.kind, (x.sent if x else None) or (y.sent if y else None), ax, ay, lat,
                              diff, _latency_differs(*lat)))
    rid = (ra or rb).id  # type: ignore[union-attr]
    fa = ra.failure.message if ra and ra.failure else None
    fb = rb.failure.message if rb and rb.failure else None
    return ScenarioDiff(rid, (ra.status if ra else None, rb.status if rb else None), steps, (fa, fb))


# --------------------------------------------------------------------------- output


def _short(v: Any, n: int = MAX_SHOWN) -> str:
    from .report import _clean

    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = " ".join(_clean(v if isinstance(v, str) else repr(v)).split()) if v is not None else "—"
    return s if len(s) <= n else s[: n - 1] + "…"


def _ms(v: float | None) -> str:
    return f"{v:.0f} ms" if v is not None else "—"


def text(c: Comparison, show_same: bool = False) -> str:
    """Plain text, step by step (every value is cleaned of control characters)."""
    from .report import _clean

    lines = [f"compare: A = {_clean(c.a)}, B = {_clean(c.b)}"]
    for sc in c.scenarios:
        if not sc.differs and not show_same:
            continue
        mark = "DIFF" if sc.differs else "SAME"
        lines.append(f"{mark} {_clean(sc.id)} (A: {sc.status[0] or 'not run'}, B: {sc.status[1] or 'not run'})")
        for st in sc.steps:
            what = f"step {st.index} {st.kind}" + (f" {_short(st.sent, 60)!s}" if st.sent else "")
            lat = f"latency A {_ms(st.latency[0])} / B {_ms(st.latency[1])}" + (" (differs)" if st.latency_differs else "")
            if not st.fields:
                lines.append(f"  {what}: same ({lat})")
                continue
            lines.append(f"  {what}: {lat}")
            for k in st.fields:
                lines.append(f"    {k}: A {_short(st.a.get(k))} | B {_short(st.b.get(k))}")
        if sc.failure != (None, None) and sc.failure[0] != sc.failure[1]:
            lines.append(f"  first failure: A {_short(sc.failure[0])} | B {_short(sc.failure[1])}")
    ma, mb = c.latency_stats()
    lines.append(f"{len(c.scenarios)} scenarios, {len(c.differing)} differ; median turn latency "
                 f"A {_ms(ma)}, B {_ms(mb)}")
    return "\n".join(lines)


def _md(v: Any, n: int = MAX_SHOWN) -> str:
    """A Markdown table cell from untrusted text: no HTML, no pipes, no newlines, no links."""
    s = _short(v, n)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    s = s.replace("`", "\\`").replace("[", "\\[").replace("]", "\\]").replace("*", "\\*").replace("_", "\\_")
    return s


def markdown(c: Comparison) -> str:
    """The comparison as Markdown for a pull request: a summary table, then per differing
    scenario a table of the steps with the fields that differ."""
    ma, mb = c.latency_stats()
    out = [
        "## phantom test compare",
        "",
        "| | A | B |",
        "|---|---|---|",
        f"| side | {_md(c.a)} | {_md(c.b)} |",
        f"| passed | {sum(1 for s in c.scenarios if s.status[0] == 'passed')}/{len(c.scenarios)} "
        f"| {sum(1 for s in c.scenarios if s.status[1] == 'passed')}/{len(c.scenarios)} |",
        f"| median turn latency | {_ms(ma)} | {_ms(mb)} |",
        f"| run time | {c.durations[0]:.2f} s | {c.durations[1]:.2f} s |",
        "",
        f"**{len(c.differing)} of {len(c.scenarios)} scenarios differ.**",
    ]
    for sc in c.differing:
        out += ["", f"### {_md(sc.id, 300)}", "",
                f"A: {_md(sc.status[0] or 'not run')} · B: {_md(sc.status[1] or 'not run')}", "",
                "| step | sent | field | A | B |", "|---|---|---|---|---|"]
        for st in sc.steps:
            sent = _md(st.sent, 80) if st.sent else st.kind
            for k in st.fields:
                out.append(f"| {st.index} | {sent} | {_md(k)} | {_md(st.a.get(k))} | {_md(st.b.get(k))} |")
            if st.latency_differs:
                out.append(f"| {st.index} | {sent} | latency | {_ms(st.latency[0])} | {_ms(st.latency[1])} |")
    same = [s for s in c.scenarios if not s.differs]
    if same:
        out += ["", "<details><summary>Same on both sides</summary>", ""]
        out += [f"- {_md(s.id, 300)}" for s in same]
        out += ["", "</details>"]
    return "\n".join(out) + "\n"
