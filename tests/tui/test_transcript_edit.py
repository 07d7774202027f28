"""QA 22: editing an answered companion turn takes the edited-away exchange out of the shared
transcript, and the TUI's message window stays under the server's body limit."""

from __future__ import annotations

from phantom_cli.tui.conversations import CompanionConversation

from phantom_cli.client.models import CompanionPersona
from phantom_cli.conversation.transcripts import MAX_WINDOW_BYTES, Transcript


async def _drain(events) -> None:
    async for _ in events:
        pass


async def test_edit_last_retracts_the_edited_turn(ctx, fake, tmp_path) -> None:
    transcript = Transcript("luna-edit", root=tmp_path / "t")
    conv = CompanionConversation(ctx, CompanionPersona(name="Luna"), "luna-edit",
                                 transcript=transcript)
    await conv.open()
    await _drain(conv.send("I live in Porto."))
    await _drain(conv.edit_last("I live in Lisbon."))

    users = [t.user for t in transcript.turns()]
    assert users == ["I live in Lisbon."], "the edited-away turn is still in the transcript"
    context = [m["content"] for m in transcript.context()]
    assert "I live in Porto." not in context
    # a later `phantom companion say` window carries only the edited exchange
    window = transcript.window("And now?")
    assert [m["content"] for m in window if m["role"] == "user"] == ["I live in Lisbon.", "And now?"]
    # the request the edit sent did not carry the old text either
    _, body = fake.calls[-1]
    assert all(m["content"] != "I live in Porto." for m in body["messages"])


async def test_window_keeps_under_the_byte_budget(ctx, fake) -> None:
    conv = CompanionConversation(ctx, CompanionPersona(name="Luna"), "big")
    big = "語" * 6000  # 18,000 bytes of UTF-8 per message
    for i in range(60):
        conv.window += [{"role": "user", "content": f"{i}{big}"},
                        {"role": "assistant", "content": big}]
    await _drain(conv.send("last one"))
    _, body = fake.calls[-1]
    sent = body["messages"]
    assert sent[-1] == {"role": "user", "content": "last one"}
    assert sent[0]["role"] == "user"
    assert sum(len(m["content"].encode()) for m in sent) <= MAX_WINDOW_BYTES
    # issue 13: the server takes the documented maximum whole (16 MiB cap), so only the message
    # count trims this window: 100 messages, the oldest turns dropped
    assert len(sent) <= 100 and len(sent) >= 99, len(sent)
    assert sent[-2]["content"] == big and sent[-3]["content"].startswith("59")
