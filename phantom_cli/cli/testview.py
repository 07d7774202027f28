"""What ``phantom test`` shows while it runs: a live Rich progress display at a terminal (each
scenario's status as it finishes, the running ones in the bar), plain lines otherwise. Every
failure is one line (``report.failure_line``). Scenario names and server text are shown as plain
text (no markup, no control characters)."""

from __future__ import annotations

import os
import sys
from typing import Any

FORCE_TTY_ENV = "PHANTOM_FORCE_TTY"


def _is_tty() -> bool:
    forced = os.environ.get(FORCE_TTY_ENV)
    if forced is not None:
        return forced not in ("", "0")
    return sys.stdout.isatty()


class View:
    def __init__(self, total: int, no_color: bool = False) -> None:
        self.total = total
        self.tty = _is_tty()
        self.no_color = no_color or bool(os.environ.get("NO_COLOR"))
        self.running: dict[tuple[str, int], str] = {}
        self.failures: list[str] = []
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> View:
        if self.tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            console = Console(no_color=self.no_color, highlight=False)
            self._progress = Progress(
                TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=console, transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("starting", total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def _describe(self) -> str:
        names = list(self.running.values())
        if not names:
            return "…"
        more = f" (+{len(names) - 2})" if len(names) > 2 else ""
        return "running: " + ", ".join(n[:40] for n in names[:2]) + more

    def started(self, scenario: Any, attempt: int) -> None:
        from phantom_cli.scenarios.report import _clean

        self.running[(scenario.id, attempt)] = _clean(scenario.name)
        if self._progress is not None:
            self._progress.update(self._task, description=self._describe())

    def finished(self, result: Any) -> None:
        from phantom_cli.scenarios.report import _clean, failure_line

        self.running.pop((result.id, result.attempt), None)
        mark = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "interrupted": "STOP"}[result.status]
        attempt = f" [{result.attempt}]" if result.attempt > 1 else ""
        line = f"{mark} {_clean(result.file)}::{_clean(result.name)}{attempt} ({result.duration_ms:.0f} ms)"
        if result.status in ("failed", "error"):
            self.failures.append(failure_line(result))
        if self._progress is not None:
            from rich.text import Text

            style = {"PASS": "green", "FAIL": "red", "ERROR": "red", "STOP": "yellow"}[mark]
            self._progress.console.print(Text(line, style=style))
            if result.status in ("failed", "error"):
                self._progress.console.print(Text("  " + failure_line(result), style="red"))
            self._progress.update(self._task, advance=1, description=self._describe())
        else:
            print(line, flush=True)
            if result.status in ("failed", "error"):
                print("  " + failure_line(result), flush=True)

    def summary(self, summary: Any) -> None:
        counts = summary.counts()
        rates = summary.pass_rates()
        out = []
        if self.failures:
            out.append("")
            out.append("failures:")
            out.extend(self.failures)
        if summary.repeat > 1:
            out.append("")
            out.append(f"pass rates (need {summary.min_pass_rate:.0%}):")
            for sid, (p, n) in rates.items():
                ok = "ok" if summary.scenario_passed(sid) else "FAIL"
                out.append(f"  {ok:4} {p}/{n} {p / n:.0%}  {sid}")
        parts = [f"{v} {k}" for k, v in counts.items() if v]
        tail = " (interrupted)" if summary.interrupted else (" (stopped at the first failure)" if summary.stopped_early else "")
        out.append(f"{len(rates)} scenarios, {len(summary.results)} runs: {', '.join(parts) or 'nothing ran'}"
                   f" in {summary.duration_s:.2f}s{tail}")
        print("\n".join(out), flush=True)
