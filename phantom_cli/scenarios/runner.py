"""Running scenarios: bounded concurrency, repeats, stop at the first failure, clean interrupt.

Callable from Python (other tools build on it)::

    from phantom_cli.scenarios import load_suite, Runner, RunOptions
    runner = Runner(async_client, RunOptions(jobs=4, seed=1, keep_steps=True))
    summary = await runner.run(load_suite("suite.yaml").scenarios)
    for r in summary.results: r.status, r.steps[i].actual["score"], r.steps[i].latency_ms

``on_start(scenario, attempt)`` / ``on_result(result)`` callbacks feed a live display. Passed
scenarios keep no step details unless ``keep_steps`` (memory stays flat as suites grow); a failed
one keeps its steps for the report.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .drive import Ids, TargetUnavailable, make_driver
from .expect import TemplateError, check, render, render_value
from .model import Failure, RunSummary, Scenario, ScenarioResult, Step, StepResult

DEFAULT_EXTRACTION_TIMEOUT = 10.0
MAX_TURN_MEMO = 4000  # characters of a reply kept for {{turn[N].reply}}


@dataclass
class RunOptions:
    jobs: int = 4
    seed: int | None = None
    repeat: int = 1
    min_pass_rate: float = 1.0
    fail_fast: bool = False
    keep_steps: bool = False
    extraction_timeout: float = DEFAULT_EXTRACTION_TIMEOUT


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return (s or "scenario")[:40]


def scenario_ids(sc: Scenario, attempt: int, seed: int | None) -> Ids:
    """A session / chat id of its own for every scenario run (uuid-suffixed); with a seed the
    suffix is derived from (seed, scenario, attempt), so a seeded run is reproducible."""
    if seed is None:
        suffix = uuid.uuid4().hex[:12]
    else:
        rng = random.Random(f"{seed}:{sc.id}:{attempt}")
        suffix = uuid.UUID(int=rng.getrandbits(128), version=4).hex[:12]
    prefix = sc.target.chat_id or f"scn-{_slug(sc.name)}"
    return Ids(session=f"{prefix}-{suffix}")


class Runner:
    def __init__(
        self,
        client: Any,
        options: RunOptions | None = None,
        on_start: Callable[[Scenario, int], None] | None = None,
        on_result: Callable[[ScenarioResult], None] | None = None,
    ) -> None:
        self.client = client
        self.options = options or RunOptions()
        self.on_start = on_start
        self.on_result = on_result
        self.results: list[ScenarioResult] = []
        self._stop: asyncio.Event | None = None  # created in run() (inside the loop)
        self.interrupted = False
        self.stopped_early = False

    def interrupt(self) -> None:
        """Stop: no new scenario starts, running ones are cancelled and reported as interrupted."""
        self.interrupted = True
        if self._stop is not None:
            self._stop.set()

    def _jobs(self, scenarios: list[Scenario]) -> Iterator[tuple[Scenario, int]]:
        for attempt in range(1, max(1, self.options.repeat) + 1):
            for sc in scenarios:
                yield sc, attempt

    async def run(self, scenarios: list[Scenario]) -> RunSummary:
        self._stop = asyncio.Event()
        if self.interrupted:
            self._stop.set()
        t0 = time.perf_counter()
        queue = self._jobs(scenarios)
        limit = asyncio.Semaphore(max(1, self.options.jobs))

        async def worker() -> None:
            while not self._stop.is_set():
                try:
                    sc, attempt = next(queue)
                except StopIteration:
                    return
                async with limit:
                    result = await self._guarded(sc, attempt)
                self.results.append(result)
                if self.on_result:
                    self.on_result(result)
                if result.status != "passed" and self.options.fail_fast and self.options.repeat <= 1:
                    self.stopped_early = True
                    self._stop.set()

        workers = [asyncio.create_task(worker()) for _ in range(max(1, self.options.jobs))]
        await asyncio.gather(*workers)
        return RunSummary(
            results=self.results, duration_s=time.perf_counter() - t0, seed=self.options.seed,
            repeat=max(1, self.options.repeat), min_pass_rate=self.options.min_pass_rate,
            interrupted=self.interrupted, stopped_early=self.stopped_early,
        )

    async def _guarded(self, sc: Scenario, attempt: int) -> ScenarioResult:
        """Run one scenario; an interrupt cancels it (reported as interrupted)."""
        if self.on_start:
            self.on_start(sc, attempt)
        t0 = time.perf_counter()
        task = asyncio.ensure_future(self.run_scenario(sc, attempt))
        stop = asyncio.ensure_future(self._stop.wait())
        done, _ = await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            stop.cancel()
            return task.result()
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        return ScenarioResult(
            name=sc.name, file=sc.file, line=sc.line, target=sc.target.label(), attempt=attempt,
            status="interrupted", duration_ms=(time.perf_counter() - t0) * 1000, steps_run=0,
            failure=Failure("interrupted", None, None, "interrupted before it finished", sc.line),
        )

    async def run_scenario(self, sc: Scenario, attempt: int = 1) -> ScenarioResult:
        from phantom_cli.client import errors as E

        opts = self.options
        t0 = time.perf_counter()
        ids = scenario_ids(sc, attempt, opts.seed)
        driver = make_driver(self.client, sc.target, ids, opts.seed)
        variables: dict[str, Any] = dict(sc.vars)
        turns: list[dict[str, Any]] = []
        steps: list[StepResult] = []
        failure: Failure | None = None
        failed_step: int | None = None
        status = "passed"
        try:
            await driver.open()
        except TargetUnavailable as exc:
            failure, status = Failure("target", sc.target.label(), None, str(exc), sc.line), "error"
        except E.PhantomError as exc:
            failure, status = Failure("target", sc.target.label(), None, f"cannot open: {exc}", sc.line), "error"
        if failure is None:
            for step in sc.steps:
                sr = StepResult(index=step.index, kind=step.kind, line=step.line)
                steps.append(sr)
                try:
                    await self._step(driver, step, sr, variables, turns)
                except TemplateError as exc:
                    sr.failures.append(Failure("template", None, None, str(exc), step.line))
                except NotImplementedError as exc:
                    sr.failures.append(Failure(step.kind, None, None, str(exc), step.line))
                except E.APIStatusError as exc:
                    sr.failures.append(Failure(step.kind, None, exc.status, f"{step.kind}: {exc}", step.line))
                except E.PhantomError as exc:
                    sr.failures.append(Failure(step.kind, None, None, f"{step.kind}: {exc}", step.line))
                    status = "error"
                if sr.failures:
                    failure, failed_step = sr.failures[0], step.index
                    if status == "passed":
                        status = "failed"
                    break
        ids_out = {"session": ids.session, **ids.extra}
        keep = opts.keep_steps or status != "passed"
        return ScenarioResult(
            name=sc.name, file=sc.file, line=sc.line, target=sc.target.label(), attempt=attempt,
            status=status, duration_ms=(time.perf_counter() - t0) * 1000, steps_run=len(steps),
            failure=failure, failed_step=failed_step, steps=steps if keep else None, ids=ids_out,
        )  # type: ignore[arg-type]

    async def _step(self, driver: Any, step: Step, sr: StepResult, variables: dict[str, Any],
                    turns: list[dict[str, Any]]) -> None:
        if step.kind == "say":
            text = render(str(step.value), variables, turns)
            sr.sent = text
            turn = await driver.say(text)
            sr.actual, sr.latency_ms = turn.actual, round(turn.latency_ms, 3)
            memo = {k: v for k, v in turn.actual.items() if not isinstance(v, list | dict)}
            if isinstance(memo.get("reply"), str):
                memo["reply"] = memo["reply"][:MAX_TURN_MEMO]
            memo["latency_ms"] = sr.latency_ms
            expect = render_value(step.expect, variables, turns)
            turns.append(memo)
            sr.failures.extend(check(turn.actual, expect, step.expect_lines or {}))
            for f in sr.failures:
                f.line = f.line or step.line
        elif step.kind == "reset":
            await driver.reset()
        elif step.kind == "wait_for_extraction":
            timeout = self.options.extraction_timeout
            if isinstance(step.value, dict) and "timeout" in step.value:
                timeout = float(step.value["timeout"])
            t0 = time.perf_counter()
            done = await driver.wait_for_extraction(timeout)
            sr.latency_ms = round((time.perf_counter() - t0) * 1000, 3)
            if not done:
                sr.failures.append(Failure("wait_for_extraction", f"done within {timeout:g}s", "still pending",
                                           f"memory extraction still pending after {timeout:g}s", step.line))
        elif step.kind == "scratchpad":
            content = await driver.scratchpad()
            sr.actual = {"scratchpad": content}
            spec = render_value(step.value, variables, turns)
            low = content.casefold()
            for key, want in spec.items():
                words = want if isinstance(want, list) else [want]
                if key == "contains":
                    missing = [w for w in words if str(w).casefold() not in low]
                    if missing:
                        sr.failures.append(Failure("scratchpad.contains", want, content,
                                                   f"scratchpad lacks {', '.join(map(repr, missing))}", step.line))
                else:
                    found = [w for w in words if str(w).casefold() in low]
                    if found:
                        sr.failures.append(Failure("scratchpad.not_contains", want, content,
                                                   f"scratchpad contains {', '.join(map(repr, found))}", step.line))
        elif step.kind == "vars":
            variables.update(render_value(dict(step.value), variables, turns))
