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
4. custom instructions (strong directives, last so they win).

Activity instances (cards) follow SillyTavern instead (:func:`instance_prompt`): card macros are
expanded (``macros.py``), lorebook entries are placed by their position, and the card's
``post_history_instructions`` come after the history, as the last message before the reply.
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


# Snapshot fields of an activity instance, in prompt order (SillyTavern's story string order).
_INSTANCE_SECTIONS: tuple[tuple[str, str], ...] = (
    ("snapshot_description", "Description"),
    ("snapshot_personality", "Personality"),
    ("snapshot_scenario", "Scenario"),
)
EXAMPLES_LABEL = "Example dialogue (style reference, not part of this chat)"


def default_instance_system(title: str) -> str:
    """The main prompt of an instance whose card has no ``system_prompt`` (and what a card's
    ``{{original}}`` stands for)."""
    return (f"You are {title}. Stay in character and reply with one message in their voice. "
            "Do not write the user's lines.")


def instance_macro_env(
    instance_row: Any, *, user_name: str = "User", persona: str = "", chat_id: str = "",
    now: Any = None, rng: Any = None,
) -> Any:
    """The :class:`~phantom_cli.backend.macros.MacroEnv` of an instance: ``{{char}}`` is the
    card's name, ``{{user}}`` the player's (persona) name; description, personality, scenario and
    examples are themselves expanded first, so ``{{description}}`` carries no raw macros."""
    from .macros import MacroEnv, substitute

    title = _text(_get(instance_row, "snapshot_title")) or "the character"
    env = MacroEnv(char=title, user=user_name or "User", persona=persona or "",
                   chat_id=chat_id or str(_get(instance_row, "id") or ""), now=now)
    if rng is not None:
        env.rng = rng
    for attr, key in (("description", "snapshot_description"), ("personality", "snapshot_personality"),
                      ("scenario", "snapshot_scenario"), ("mes_examples", "snapshot_example_dialogue")):
        setattr(env, attr, substitute(str(_get(instance_row, key) or ""), env).strip())
    return env


def instance_prompt(
    instance_row: Any,
    recent_messages: Sequence[Any],
    *,
    window: int = DEFAULT_WINDOW,
    env: Any = None,
    lore: Sequence[Any] = (),
) -> Prompt:
    """The prompt of a streamed activity-instance chat turn, in SillyTavern's order.

    ``instance_row``: the instance (sqlite3.Row / dict / model) with its ``snapshot_*`` fields;
    ``recent_messages``: its messages oldest first (``role``, ``content``), the card's greeting
    first (stored as the instance's first assistant message) and the user's new message last.
    System-role messages are added to the system prompt. ``env``: the macro environment
    (:func:`instance_macro_env`; a default one when None): every card text is expanded.
    ``lore``: the activated lorebook entries (``content.lore.Activated``), placed by position.

    Layout: one system message (main prompt — the card's ``system_prompt`` with ``{{original}}``
    = the default one —, lore ``before_char``, description, personality, scenario, lore
    ``after_char``/``an_*``, lore ``em_top``, examples, lore ``em_bottom``, notes), then the
    history with ``at_depth`` lore inserted as system messages, then ``post_history_instructions``
    as the last system message, right before the reply.
    """
    from .macros import substitute

    if env is None:
        env = instance_macro_env(instance_row)
    title = env.char

    def sub(value: Any, original: str = "") -> str:
        return substitute(str(value or ""), env, original=original).strip()

    def lore_at(*positions: str) -> list[str]:
        return [a.content.strip() for a in lore if a.position in positions and a.content.strip()]

    default_main = default_instance_system(title)
    system_prompt = sub(_get(instance_row, "snapshot_system_prompt"), default_main)
    sections = [system_prompt or default_main]
    before = lore_at("before_char")
    if before:
        sections.append("World info:\n" + "\n".join(before))
    for key, label in _INSTANCE_SECTIONS:
        value = sub(_get(instance_row, key))
        if value:
            sections.append(f"{label}:\n{value}")
    after = lore_at("after_char", "an_top", "an_bottom")
    if after:
        sections.append(("World info:\n" if not before else "More world info:\n") + "\n".join(after))
    em_top, em_bottom = lore_at("em_top"), lore_at("em_bottom")
    examples = sub(_get(instance_row, "snapshot_example_dialogue"))
    if em_top or examples or em_bottom:
        sections.append(f"{EXAMPLES_LABEL}:\n" + "\n".join([*em_top, *([examples] if examples else []),
                                                             *em_bottom]))
    extra_system = [str(_get(m, "content")) for m in recent_messages if _get(m, "role") == "system"]
    if extra_system:
        sections.append("Notes:\n" + "\n".join(extra_system))
    msgs = _messages(recent_messages, window)
    # a greeting swapped in by a client (the TUI's greeting cycle) may arrive with its macros
    # unexpanded: the character's own lines are expanded too (the user's are left as typed)
    history: list[PromptMessage] = [
        PromptMessage(m.role, substitute(m.content, env)) if m.role == "assistant" and "{{" in m.content
        else m for m in msgs
    ]
    for a in sorted((a for a in lore if a.position == "at_depth" and a.content.strip()),
                    key=lambda a: a.depth):
        at = max(0, len(history) - max(0, int(a.depth)))
        history.insert(at, PromptMessage("system", a.content.strip()))
    post = sub(_get(instance_row, "snapshot_post_history_instructions"))
    tail = [PromptMessage("system", post)] if post else []
    greeting = sub(_get(instance_row, "snapshot_first_message"))
    context: dict[str, Any] = {
        "kind": "instance",
        "character": {
            "name": title,
            "personality": _text(env.personality),
            "scenario": _text(env.scenario),
            "first_message": _text(greeting),
            "example_dialogue": _text(env.mes_examples),
        },
        "user_name": env.user,
        "user_message": _last_user(msgs),
        "turn_index": sum(1 for m in msgs if m.role == "user"),
        "post_history_instructions": post,
        "lore": [a.record() for a in lore],
    }
    return Prompt([PromptMessage("system", "\n\n".join(sections)), *history, *tail], context)


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
