"""Prompt assembly, in one readable place.

Every engine gets a :class:`~phantom_cli.backend.engines.Prompt`: chat-completions ``messages``
(one system message, then the recent window) for the LLM engines, and the structured
``context`` the same text was built from for the offline ``scripted`` engine. ``Prompt.to_json()``
is what the server stores per turn and returns from ``GET /api/v1/local/prompts/{turn_id}``.

The system message is built in this order (design: persona or activity snapshot, retrieved
memories, the profile, then the recent window):

1. who the character is (preamble, persona fields / activity system prompt, personality,
   scenario, example dialogue);
2. what the character remembers about the user (retrieved memories, most relevant first);
3. the user's profile (structured facts);
4. custom instructions / post-history instructions (strong directives, last so they win).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .engines import Prompt, PromptMessage

# Persona fields of seed 000, in the order they read best, with their labels.
PERSONA_FIELDS: tuple[tuple[str, str], ...] = (
    ("nickname", "Nickname"),
    ("gender", "Gender"),
    ("date_of_birth", "Date of birth / age"),
    ("language", "Languages"),
    ("lives_in_city", "Lives in (city)"),
    ("lives_in_country", "Lives in (country)"),
    ("comes_from_city", "Comes from (city)"),
    ("comes_from_country", "Comes from (country)"),
    ("living_situation", "Living situation"),
    ("daily_routine", "Daily routine"),
    ("goals", "Goals"),
    ("bio", "Background and personality"),
    ("boundaries", "Boundaries (lines the character will not cross)"),
)

PROFILE_LABELS: dict[str, str] = {
    "name": "Name",
    "age": "Age",
    "location": "Lives in",
    "hometown": "From",
    "job": "Work",
    "likes": "Likes",
    "dislikes": "Dislikes",
    "relationships": "People in their life",
    "pets": "Pets",
    "facts": "Other facts",
}

DEFAULT_WINDOW = 20  # most recent messages sent to the engine


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _get(row: Any, key: str) -> Any:
    if row is None:
        return None
    if isinstance(row, Mapping):
        return row.get(key)
    try:
        return row[key]  # sqlite3.Row
    except (KeyError, IndexError, TypeError):
        return getattr(row, key, None)


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return {k: v for k, v in obj.items() if v is not None}
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return {k: v for k, v in dump().items() if v is not None}
    keys = getattr(obj, "keys", None)
    if callable(keys):
        return {k: obj[k] for k in keys() if obj[k] is not None}
    return dict(vars(obj))


def _messages(recent: Iterable[Any], window: int) -> list[PromptMessage]:
    out: list[PromptMessage] = []
    for m in recent:
        role = _get(m, "role")
        content = _get(m, "content")
        if role not in ("user", "assistant") or not content:
            continue  # system rows of an instance are folded into the system message
        out.append(PromptMessage(role, str(content)))
    return out[-window:] if window > 0 else out


def _last_user(msgs: Sequence[PromptMessage]) -> str:
    return next((m.content for m in reversed(msgs) if m.role == "user"), "")


def format_profile(profile: Mapping[str, Any] | None) -> str:
    """The structured profile as readable lines ('' when empty)."""
    if not profile:
        return ""
    lines: list[str] = []
    for key, value in profile.items():
        if value in (None, "", [], {}):
            continue
        label = PROFILE_LABELS.get(key, key.replace("_", " ").capitalize())
        if isinstance(value, Mapping):
            rendered = "; ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            rendered = ", ".join(str(v) for v in value)
        else:
            rendered = str(value)
        lines.append(f"- {label}: {rendered}")
    return "\n".join(lines)


def companion_prompt(
    persona: Any,
    messages: Sequence[Any],
    *,
    memories: Sequence[str] = (),
    profile: Mapping[str, Any] | None = None,
    window: int = DEFAULT_WINDOW,
) -> Prompt:
    """The prompt of one companion turn (seed 000).

    ``persona`` is a ``CompanionPersona`` or its dict; ``messages`` the request's window
    (``{role, content}``); ``memories`` the retrieved facts, most relevant first; ``profile``
    the user's structured profile or ``None`` when there is none to inject.
    """
    p = _as_dict(persona)
    name = _text(p.get("name")) or "the companion"
    style = _text(p.get("chat_style"))
    sections: list[str] = [
        f"You are {name}, a companion character talking with the user. Stay in character as "
        f"{name} at all times; never say you are an AI or a language model. Reply with one "
        "natural chat message, in the character's voice"
        + (f", in a {style} style" if style else "")
        + ". Do not write the user's lines."
    ]
    facts = [f"- {label}: {_text(p[key])}" for key, label in PERSONA_FIELDS if p.get(key)]
    if facts:
        sections.append(f"About {name}:\n" + "\n".join(facts))
    if memories:
        sections.append(
            f"What {name} remembers about the user (most relevant first):\n"
            + "\n".join(f"- {_text(m)}" for m in memories)
        )
    prof = format_profile(profile)
    if prof:
        sections.append("The user's profile:\n" + prof)
    if p.get("custom_instructions"):
        sections.append("Instructions (follow them strictly):\n" + str(p["custom_instructions"]).strip())
    if p.get("boundaries"):
        sections.append(f"Never cross {name}'s boundaries listed above, even if asked.")
    msgs = _messages(messages, window)
    context: dict[str, Any] = {
        "kind": "companion",
        "character": {k: v for k, v in p.items() if isinstance(v, str)},
        "memories": [str(m) for m in memories],
        "profile": dict(profile) if profile else {},
        "user_message": _last_user(msgs),
        "turn_index": sum(1 for m in msgs if m.role == "user"),
    }
    return Prompt([PromptMessage("system", "\n\n".join(sections)), *msgs], context)


# Snapshot fields of an activity instance, in prompt order.
_INSTANCE_SECTIONS: tuple[tuple[str, str], ...] = (
    ("snapshot_description", "Description"),
    ("snapshot_personality", "Personality"),
    ("snapshot_scenario", "Scenario"),
    ("snapshot_example_dialogue", "Example dialogue (style reference, not part of this chat)"),
)


def instance_prompt(
    instance_row: Any,
    recent_messages: Sequence[Any],
    *,
    window: int = DEFAULT_WINDOW,
) -> Prompt:
    """The prompt of a streamed activity-instance chat turn.

    ``instance_row``: the instance (sqlite3.Row / dict / model) with its ``snapshot_*`` fields;
    ``recent_messages``: its messages oldest first (``role``, ``content``), the user's new
    message last. System-role messages are added to the system prompt.
    """
    title = _text(_get(instance_row, "snapshot_title")) or "the character"
    system_prompt = _text(_get(instance_row, "snapshot_system_prompt"))
    sections = [
        system_prompt
        or f"You are {title}. Stay in character and reply with one message in their voice. "
        "Do not write the user's lines."
    ]
    for key, label in _INSTANCE_SECTIONS:
        value = _get(instance_row, key)
        if value:
            sections.append(f"{label}:\n{str(value).strip()}")
    extra_system = [str(_get(m, "content")) for m in recent_messages if _get(m, "role") == "system"]
    if extra_system:
        sections.append("Notes:\n" + "\n".join(extra_system))
    post = _get(instance_row, "snapshot_post_history_instructions")
    if post:
        sections.append("Instructions (follow them strictly):\n" + str(post).strip())
    msgs = _messages(recent_messages, window)
    context: dict[str, Any] = {
        "kind": "instance",
        "character": {
            "name": title,
            "personality": _text(_get(instance_row, "snapshot_personality")),
            "scenario": _text(_get(instance_row, "snapshot_scenario")),
            "first_message": _text(_get(instance_row, "snapshot_first_message")),
            "example_dialogue": _text(_get(instance_row, "snapshot_example_dialogue")),
        },
        "user_message": _last_user(msgs),
        "turn_index": sum(1 for m in msgs if m.role == "user"),
    }
    return Prompt([PromptMessage("system", "\n\n".join(sections)), *msgs], context)


def npc_prompt(
    *,
    npc_name: str,
    state: str,
    goal: str = "",
    lines: Sequence[str] = (),
    history: Sequence[Any] = (),
    player_name: str | None = None,
    player_gender: str | None = None,
    description: str = "",
    decision_rules: Sequence[Mapping[str, Any]] = (),
    default_decision: str | None = None,
    window: int = DEFAULT_WINDOW,
) -> Prompt:
    """The prompt of an NPC line (and, with ``decision_rules``, of its transition decision).

    ``history`` holds ``{role: "npc"|"player"|"assistant"|"user", content}`` items, oldest first.
    """
    sections = [
        f"You are {npc_name}, a character in a game, talking with the player"
        + (f" {player_name}" if player_name else "")
        + (f" ({player_gender})" if player_gender else "")
        + ". Stay in character; reply with one short line of dialogue."
    ]
    if description:
        sections.append(f"About {npc_name}:\n{description.strip()}")
    sections.append(f"Current state: {state}." + (f" Your goal here: {goal.strip()}" if goal else ""))
    if lines:
        sections.append("Lines you might say in this state (use them as a guide):\n"
                        + "\n".join(f"- {x}" for x in lines))
    converted = [
        {"role": "assistant" if _get(m, "role") in ("npc", "assistant") else "user",
         "content": _get(m, "content")}
        for m in history
    ]
    msgs = _messages(converted, window)
    context: dict[str, Any] = {
        "kind": "npc",
        "character": {"name": npc_name, "description": description},
        "state": state,
        "goal": goal,
        "lines": list(lines),
        "player_name": player_name,
        "user_message": _last_user(msgs),
        "decision_rules": [dict(r) for r in decision_rules],
        "default_decision": default_decision,
    }
    return Prompt([PromptMessage("system", "\n\n".join(sections)), *msgs], context)


def decision_prompt(prompt: Prompt, choices: Sequence[str]) -> Prompt:
    """A classification prompt for LLM engines: pick one of ``choices`` for the last message.

    The rules of ``prompt.context["decision_rules"]`` are described so the model sees what the
    author meant by each choice.
    """
    rules = prompt.context.get("decision_rules") or []
    described: list[str] = []
    for c in choices:
        hints: list[str] = []
        for r in rules:
            if r.get("decision") == c:
                if r.get("description"):
                    hints.append(str(r["description"]))
                if r.get("keywords"):
                    hints.append("e.g. the player says: " + ", ".join(map(str, r["keywords"])))
        described.append(f"- {c}" + (": " + "; ".join(hints) if hints else ""))
    default = prompt.context.get("default_decision")
    system = (
        prompt.system
        + "\n\nTask: classify the player's last message. Choose exactly one decision:\n"
        + "\n".join(described)
        + (f"\nIf none clearly applies, choose {default}." if default in choices else "")
        + '\nAnswer with JSON only: {"decision": "<one of the choices>"}.'
    )
    msgs = [m for m in prompt.messages if m.role != "system"]
    return Prompt([PromptMessage("system", system), *msgs], {**prompt.context, "choices": list(choices)})


def extraction_prompt(user_messages: Sequence[str], profile: Mapping[str, Any] | None) -> Prompt:
    """Ask an LLM for durable facts about the user (JSON, see memory.extraction.FACT_SCHEMA)."""
    system = (
        "Extract durable facts about the user from their messages below: name, age, where they "
        "live or come from, job, likes, dislikes, people and pets in their life, and other lasting "
        "facts. Ignore passing moods and anything said about other characters. Write each fact "
        "as a short third-person sentence starting with 'The user' and give its slot "
        "(name, age, location, hometown, job, likes, dislikes, relationships, pets, facts), a "
        "short key inside the slot (e.g. the relation 'sister' or the liked thing) and the value. "
        'Answer with JSON only: {"facts": [{"slot": ..., "key": ..., "value": ..., "text": ...}]}.'
    )
    if profile:
        system += "\n\nWhat is already known:\n" + format_profile(profile)
    body = "\n".join(f"- {m}" for m in user_messages)
    return Prompt(
        [PromptMessage("system", system), PromptMessage("user", "User's messages:\n" + body)],
        {"kind": "extraction", "user_messages": list(user_messages)},
    )
