"""The stderr summaries of `companion say` and `npc say` (flags, memory, state, unlocks)."""

from __future__ import annotations

from phantom_cli.cli.companion import flags_summary
from phantom_cli.cli.npc import turn_summary


def test_companion_flags_and_memory() -> None:
    lines = flags_summary(
        {
            "moderation": {
                "inbound_prohibited": False,
                "outbound_filtered": True,
                "reason": "harassment \x1b[31m[red]x[/red]",
            },
            "memory": {"retrieved_count": 3, "profile_used": True},
            "extraction_enqueued": True,
        }
    )
    assert lines[0].startswith("⚑ filtered")
    assert "\x1b" not in lines[0] and "\\x1b[31m[red]x[/red]" in lines[0]
    assert lines[-1] == "memory: 3 retrieved, profile used, extraction queued"
    refused = flags_summary({"moderation": {"inbound_prohibited": True, "reason": "violence"}})
    assert refused[0] == "⚑ refused: violence"
    assert refused[-1] == "memory: 0 retrieved, no profile, no extraction"


def test_npc_turn_summary() -> None:
    first, second = turn_summary(
        {
            "current_state": "deal_struck",
            "score": 4.0,
            "score_delta": -1,
            "decision": "pass",
            "redirect_count": 1,
            "outcome": "sold",
            "machine_completed": True,
            "unlocked_machines": ["machine_secret", "machine_\x1b]52;c;x\x07"],
        }
    )
    assert first == (
        "state: deal_struck · score: 4 (-1) · decision: pass · redirects: 1 · outcome: sold"
    )
    assert second.startswith("machine completed: yes · unlocked: machine_secret, machine_\\x1b")
    assert "\x07" not in second
    plain = turn_summary({"current_state": "greeting", "score": 0.5, "decision": None})
    assert plain[0] == "state: greeting · score: 0.5 · decision: — · outcome: —"
    assert plain[1] == "machine completed: no"
