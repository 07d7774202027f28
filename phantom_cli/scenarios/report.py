"""Reports of a run: one line per failure, JSON, JUnit XML."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .model import RunSummary, ScenarioResult


def _clean(text: str) -> str:
    """No control characters (terminal escapes) from server text in a line or in XML."""
    return "".join(ch if ch in "\t\n" or (ch >= " " and ch != "\x7f") else "?" for ch in str(text))


def failure_line(r: ScenarioResult) -> str:
    """``file:line: scenario › step N: expectation: actual vs expected`` (one line)."""
    f = r.failure
    if f is None:
        return f"{r.file}:{r.line}: {r.name}: {r.status}"
    line = f.line or r.line
    step = f" › step {r.failed_step}" if r.failed_step else ""
    attempt = f" (attempt {r.attempt})" if r.attempt > 1 else ""
    msg = " ".join(_clean(f.message).split())
    if not msg.startswith(f"{f.expectation}:"):
        msg = f"{f.expectation}: {msg}"
    return f"{_clean(r.file)}:{line}: {_clean(r.name)}{attempt}{step}: {msg}"


def to_json(summary: RunSummary) -> dict[str, Any]:
    rates = summary.pass_rates()
    return {
        "format": "phantom-test-results/1",
        "ok": summary.ok,
        "duration_s": round(summary.duration_s, 3),
        "seed": summary.seed,
        "repeat": summary.repeat,
        "min_pass_rate": summary.min_pass_rate,
        "interrupted": summary.interrupted,
        "stopped_early": summary.stopped_early,
        "counts": summary.counts(),
        "scenarios": [
            {"id": sid, "passed": p, "attempts": n, "pass_rate": p / n if n else 0.0,
             "ok": summary.scenario_passed(sid)}
            for sid, (p, n) in rates.items()
        ],
        "results": [r.to_dict() for r in summary.results],
    }


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file beside ``path`` (folders created); OSError on failure, no temp left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


write_file = _atomic_write  # for the other tools of this package (record, compare, walk)


def write_json(summary: RunSummary, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    data = {**to_json(summary), **(extra or {})}
    _atomic_write(Path(path), (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode())


def to_junit(summary: RunSummary) -> ET.Element:
    """JUnit XML (the Jenkins/Surefire shape GitHub, GitLab and Jenkins read): one <testsuite>
    per scenario file, one <testcase> per scenario run."""
    by_file: dict[str, list[ScenarioResult]] = {}
    for r in summary.results:
        by_file.setdefault(r.file, []).append(r)
    root = ET.Element("testsuites", name="phantom test", tests=str(len(summary.results)),
                      time=f"{summary.duration_s:.3f}")
    totals = {"failures": 0, "errors": 0, "skipped": 0}
    for file, results in by_file.items():
        suite = ET.SubElement(root, "testsuite", name=file, tests=str(len(results)))
        counts = {"failures": 0, "errors": 0, "skipped": 0}
        total = 0.0
        for r in results:
            name = r.name if summary.repeat <= 1 else f"{r.name} [{r.attempt}]"
            case = ET.SubElement(suite, "testcase", classname=Path(file).stem, name=_clean(name),
                                 file=file, line=str(r.line), time=f"{r.duration_ms / 1000:.3f}")
            total += r.duration_ms / 1000
            if r.status == "failed":
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", message=_clean(r.failure.message if r.failure else "failed"),
                                   type=r.failure.expectation if r.failure else "failure")
                el.text = failure_line(r)
            elif r.status == "error":
                counts["errors"] += 1
                el = ET.SubElement(case, "error", message=_clean(r.failure.message if r.failure else "error"),
                                   type=r.failure.expectation if r.failure else "error")
                el.text = failure_line(r)
            elif r.status == "interrupted":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message="interrupted")
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", f"{total:.3f}")
    for k, v in totals.items():
        root.set(k, str(v))
    return root


def write_junit(summary: RunSummary, path: str | Path) -> None:
    tree = ET.ElementTree(to_junit(summary))
    ET.indent(tree)
    import io

    buf = io.BytesIO()
    tree.write(buf, encoding="utf-8", xml_declaration=True)
    _atomic_write(Path(path), buf.getvalue())
