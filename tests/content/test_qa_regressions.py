"""Regression tests for defects QA found in the admin CLI (/tmp/qa_findings.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from phantom_cli.backend import cards
from phantom_cli.backend.testing import LiveServer

from .test_admin import run


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = LiveServer(tmp_path_factory.mktemp("admin_qa"), engine="scripted", seed=0).start()
    try:
        yield s
    finally:
        s.stop()


def test_export_card_to_a_png_name_writes_a_png(server: LiveServer, tmp_path: Path) -> None:
    """QA 20: `export-card act_luna -o luna.png` (no --png) wrote JSON into the .png file."""
    out = tmp_path / "luna.PNG"
    r = run(server, "export-card", "act_luna", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert cards.parse_card(out.read_bytes()).activity["title"] == "Luna"
    assert "PNG card" in r.output


def test_export_card_refuses_png_into_a_json_name(server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "luna.json"
    r = run(server, "export-card", "act_luna", "--png", "-o", str(out))
    assert r.exit_code == 2 and ".png" in r.output
    assert not out.exists()
