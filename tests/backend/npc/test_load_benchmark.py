"""benchmarks/load.py stays runnable: a short run meets its own targets."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_short_load_run_meets_the_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("phantom_load_bench", ROOT / "benchmarks" / "load.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    out = tmp_path / "load.json"
    rc = mod.main(["--seconds", "2", "--conversations", "4", "--json", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["errors"] == 0 and report["lost"] == 0 and report["duplicated"] == 0
    assert report["turns"] > 0 and {"npc", "companion"} <= set(report["per_kind"])
    assert report["checks"]["npc_messages_stored"] > 0 and report["checks"]["companion_turns_stored"] > 0
    text = capsys.readouterr().out
    assert "turns/s" in text and "p99" in text
    # the latency target can miss on a busy machine with so few turns; everything else must hold
    assert rc == (0 if report["targets"]["p99 < 10 x p50"] else 1)
    assert all(ok for name, ok in report["targets"].items() if name != "p99 < 10 x p50")
