"""The ``scripted`` engine: offline, no model, deterministic for a given seed.

It writes a reply from the structured ``Prompt.context`` (the character's fields, retrieved
memories, the user's profile, the NPC state's authored lines) with templates chosen by a
random generator seeded from ``seed`` and the prompt's hash, so the same turn with the same seed
gives the same reply and a different turn gives a different one. It says what it is: its name
is ``scripted`` and its model ``scripted``.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from . import Prompt

_WORD_CHUNK = re.compile(r"\S+\s*")
_STOP = frozenset(
    """a an the and or but so if then than that this these those i me my mine you your yours we us
    our he she it they them his her its their to of in on at by for with from about as into over
    under is am are was were be been being do does did have has had will would shall should can
    could may might must not no yes just really very too also what who whom which when where why how
    hi hello hey morning evening night good okay ok well oh ah um like get got go going went come
    know think feel felt want wanted need some any all more most much many there here up down out
    again still even ever today tomorrow yesterday remember something thing things lot bit little
    one two let lets lately anyway actually maybe kind sort tired sure thanks thank name live lives living
    called named work works love loves hate hates tell told say said please where again now head
    mind sweet nice cute kind funny great cool fine bad lovely awesome amazing glad happy sad
    stressful keeps keep though really pretty quite i'm i've i'd i'll it's that's don't didn't can't won't you're what's""".split()
)
_POSITIVE = re.compile(
    r"\b(happy|glad|great|good news|excited|awesome|amazing|love|loved|wonderful|fantastic|"
    r"proud|won|passed|nailed|yay)\b",
    re.I,
)
_NEGATIVE = re.compile(
    r"\b(sad|tired|stressed|anxious|worried|upset|angry|lonely|bad day|awful|terrible|hate|"
    r"failed|lost|sick|dreading|nervous|scared|exhausted|stressful|stress|overwhelmed|"
    r"frustrated|frustrating|annoyed|annoying|hard week|rough)\b",
    re.I,
)
_THANKS = re.compile(r"^\s*(thanks|thank you|thx|ty|cheers)\b", re.I)
_ADJECTIVES = frozenset(
    """big small huge tiny new old long short first last next other same whole big-ass important
    difficult hard easy rough tough busy hectic crazy nice bad good great little young best worst favourite favorite weird
    strange stupid annoying awful amazing lovely early late final main""".split()
)
_GREETING = re.compile(r"^\s*(hi|hey|hello|good (morning|afternoon|evening)|morning|evening|yo)\b", re.I)
_INTEREST = re.compile(
    r"\b(?:loves?|likes?|enjoys?|adores?|passionate about|into|obsessed with|fascinated by)\s+"
    r"([^.,;!?]{3,60})",
    re.I,
)


def _clean(text: Any) -> str:
    return " ".join(str(text or "").split())


def _first_sentence(text: str, limit: int = 160) -> str:
    text = _clean(text)
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    out = m.group(1) if m else text
    return out if len(out) <= limit else out[: limit - 1].rsplit(" ", 1)[0] + "…"


def topic_of(message: str) -> str | None:
    """The most telling thing a message mentions, for a follow-up question.

    A noun after a determiner ("my sister", "that big presentation") wins; otherwise the
    longest word that is not a stop word.
    """
    phrases = re.findall(
        r"\b(my|our|the|that|this|a|an)\s+([a-z][a-z'-]+)(?:\s+([a-z][a-z'-]+))?", message, re.I
    )
    nouns: list[tuple[str, str]] = []
    for det, first, second in phrases:
        first, second = first.lower(), second.lower()
        # "that big presentation" -> presentation; "my boss keeps…" -> boss
        noun = second if first in _ADJECTIVES and second else first
        if len(noun) > 2 and noun not in _STOP and not noun.endswith(("ed", "ly")):
            nouns.append((det.lower(), noun))
    if nouns:
        det, noun = max(nouns, key=lambda x: len(x[1]))
        return ("your " if det in ("my", "our") else "the ") + noun
    raw = [w.strip("'\"") for w in re.findall(r"[A-Za-z][A-Za-z'-]*", message)]
    words = [w.lower() for w in raw]
    # Proper names (capitalised mid-sentence) make odd follow-ups ("tell me about Sam"): skip them.
    ok = [len(w) > 2 and w not in _STOP and w not in _ADJECTIVES and not w.endswith(("'s", "ed", "ly"))
          and not (i > 0 and raw[i][:1].isupper()) for i, w in enumerate(words)]
    cands = [(i, w) for i, w in enumerate(words) if ok[i]]
    if not cands:
        return None
    i, best = max(cands, key=lambda c: (len(c[1]), -c[0]))
    if i + 1 < len(words) and ok[i + 1]:
        return f"{best} {words[i + 1]}"  # "black holes"
    if i > 0 and ok[i - 1]:
        return f"{words[i - 1]} {best}"
    return best


_VERBS = {
    "is": "are", "was": "were", "has": "have", "does": "do", "lives": "live", "likes": "like",
    "dislikes": "dislike", "loves": "love", "hates": "hate", "works": "work", "studies": "study",
    "enjoys": "enjoy", "prefers": "prefer", "owns": "own", "comes": "come", "wants": "want",
    "plays": "play", "speaks": "speak", "grew": "grew", "moved": "moved",
}


def second_person(fact: str) -> str:
    """'The user lives in Lisbon.' -> 'you live in Lisbon' (for a reply that recalls it)."""
    text = _clean(fact).rstrip(".!")
    m = re.match(r"(?i)the user's\s+(.*)", text)
    if m:
        return "your " + m.group(1)
    m = re.match(r"(?i)the user\s+(\w+)\s*(.*)", text)
    if m:
        verb = m.group(1).lower()
        if verb in _VERBS:
            verb = _VERBS[verb]
        elif verb.endswith("ies") and len(verb) > 4:
            verb = verb[:-3] + "y"
        elif verb.endswith("s") and not verb.endswith("ss"):
            verb = verb[:-1]
        return f"you {verb} {m.group(2)}".strip()
    return re.sub(r"(?i)\bthe user's\b", "your", re.sub(r"(?i)\bthe user\b", "you", text))


class _Writer:
    def __init__(self, rng: random.Random, greedy: bool) -> None:
        self.rng = rng
        self.greedy = greedy

    def pick(self, options: Sequence[str]) -> str:
        return options[0] if self.greedy else self.rng.choice(list(options))

    def chance(self, p: float) -> bool:
        return (p >= 0.5) if self.greedy else self.rng.random() < p


def _character(ctx: Mapping[str, Any]) -> dict[str, Any]:
    ch = ctx.get("character")
    return dict(ch) if isinstance(ch, Mapping) else {}


def _user_name(ctx: Mapping[str, Any]) -> str | None:
    prof = ctx.get("profile")
    if isinstance(prof, Mapping) and prof.get("name"):
        return _clean(prof["name"])[:60]
    if ctx.get("player_name"):
        return _clean(ctx["player_name"])[:60]
    return None


def _style_words(style: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", style.lower())}


def companion_reply(ctx: Mapping[str, Any], w: _Writer) -> str:
    ch = _character(ctx)
    message = _clean(ctx.get("user_message"))
    you = _user_name(ctx)
    style = _style_words(_clean(ch.get("chat_style") or ch.get("personality")))
    playful = bool(style & {"playful", "teasing", "witty", "cheeky", "funny", "flirty", "bubbly"})
    calm = bool(style & {"calm", "gentle", "soft", "warm", "caring", "serene", "thoughtful"})
    formal = bool(style & {"formal", "polite", "reserved", "dry", "stoic", "serious"})
    parts: list[str] = []

    # 1. Opening, addressing the user when the profile knows their name.
    addressee = f", {you}" if you else ""
    if _THANKS.search(message):
        parts.append(w.pick([f"Anytime{addressee}.", f"Aw, you're welcome{addressee}!", f"Of course{addressee}."]))
    elif _GREETING.search(message):
        if formal:
            parts.append(w.pick([f"Good to see you{addressee}.", f"Hello{addressee}.", f"Welcome back{addressee}."]))
        elif playful:
            parts.append(w.pick([f"Well, look who's here{addressee}!", f"Hey you{addressee}!", f"There you are{addressee}!"]))
        else:
            parts.append(w.pick([f"Hi{addressee}!", f"Hello{addressee}, it's good to hear from you.", f"Hey{addressee}!"]))
    elif _NEGATIVE.search(message):
        parts.append(w.pick([
            f"Oh{addressee}, that sounds hard.",
            f"I'm sorry{addressee}, that doesn't sound easy at all.",
            f"Come here{addressee}, that sounds like a lot.",
        ]))
    elif _POSITIVE.search(message):
        parts.append(w.pick([
            f"That's wonderful{addressee}!",
            f"Oh, I love hearing that{addressee}!",
            f"Yes{addressee}! That made me smile.",
        ]))
    elif message.rstrip().endswith("?"):
        parts.append(w.pick([
            f"Good question{addressee}.",
            f"Hmm, let me think{addressee}.",
            f"You always ask the interesting ones{addressee}.",
        ]))
    elif you:
        parts.append(w.pick([f"Mm, {you}.", f"I hear you, {you}.", f"Okay, {you}."]))
    else:
        parts.append(w.pick(["I hear you.", "Mm, go on.", "Okay, I'm listening."]))

    # 2. Recall a retrieved memory (the most relevant one comes first).
    memories = [m for m in ctx.get("memories") or [] if isinstance(m, str) and m.strip()]
    if memories:
        recalled = second_person(memories[0])
        parts.append(w.pick([
            f"I remember {recalled}.",
            f"You told me {recalled}, didn't you?",
            f"Of course I haven't forgotten that {recalled}.",
        ]))
        if len(memories) > 1 and w.chance(0.5):
            parts.append(f"And that {second_person(memories[1])}.")

    # 3. The character's own colour: an interest from the bio, or where they live.
    bio = " ".join(_clean(ch.get(k)) for k in ("bio", "goals", "daily_routine", "personality", "scenario"))
    interest = _INTEREST.search(bio)
    city = _clean(ch.get("lives_in_city"))
    topic = topic_of(message)
    if interest and w.chance(0.6):
        thing = interest.group(1).strip()
        parts.append(w.pick([
            f"It reminds me of {thing}, honestly.",
            f"You know me, my mind always drifts to {thing}.",
            f"I was just thinking about {thing} before you wrote.",
        ]))
    elif city and w.chance(0.5):
        parts.append(w.pick([f"It's quiet here in {city} today.", f"Things in {city} have been busy."]))

    # 4. A follow-up on what the user actually said.
    if topic:
        if playful:
            parts.append(w.pick([
                f"Now tell me everything about {topic}.",
                f"So, {topic}? I need details.",
                f"Okay, spill: what's the story with {topic}?",
            ]))
        elif calm:
            parts.append(w.pick([
                f"How do you feel about {topic}?",
                f"Tell me more about {topic}, whenever you're ready.",
                f"What does {topic} mean to you right now?",
            ]))
        else:
            parts.append(w.pick([
                f"What happened with {topic}?",
                f"Tell me more about {topic}.",
                f"How is {topic} going?",
            ]))
    else:
        parts.append(w.pick(["What's on your mind?", "How are you, really?", "Tell me more."]))
    return " ".join(parts)


_YOU_VERB = {"has": "have", "is": "are", "was": "were"}
_NAMED_TRAITS = re.compile(r"^\s*([A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3})\s*:\s*(.+)$", re.S)


def _speaker(ch: Mapping[str, Any]) -> tuple[str | None, str]:
    """(who speaks, their traits) of an activity.

    An authored personality often names the character ("Inspector Wren: meticulous, wry…");
    otherwise a title that is a name ("Luna", "Marisol — Portuguese practice") names them. A
    title such as "The Hollow Market" names a place, not a speaker: None.
    """
    personality = _clean(ch.get("personality"))
    m = _NAMED_TRAITS.match(personality)
    if m:
        return m.group(1), _clean(m.group(2))
    title = re.split(r"\s+[—–-]\s+|\s*\(", _clean(ch.get("name")), maxsplit=1)[0].strip()
    m = re.search(r"\bwith\s+((?:[A-Z][\w.'-]*\s*){1,3})$", title)
    if m:
        return m.group(1).strip(), personality
    if title and title != "the character" and not re.match(r"(?i)(the|a|an)\b", title):
        return title, personality
    return None, personality


def activity_reply(ctx: Mapping[str, Any], w: _Writer) -> str:
    """An in-character answer to the user's last message.

    The activity's greeting (``first_message``) only opens the conversation: it is shown before
    the first turn, so it is never the reply (it would repeat word for word).
    """
    ch = _character(ctx)
    name, personality = _speaker(ch)
    message = _clean(ctx.get("user_message"))
    who = name or "Your host"
    you = _user_name(ctx) or "you"

    def fill(text: str) -> str:  # card placeholders: {{user}}, {{char}}
        text = re.sub(r"(?i)\{\{\s*user\s*\}\}", you, text)
        text = re.sub(r"\b([Yy]ou) (has|is|was)\b",
                      lambda m: m.group(1) + " " + _YOU_VERB[m.group(2)], text)
        text = re.sub(r"(?i)\{\{\s*char\s*\}\}", name or "I", text)
        return text[:1].upper() + text[1:]

    personality = fill(personality)
    parts: list[str] = []
    scenario = fill(_first_sentence(_clean(ch.get("scenario"))))
    if _THANKS.search(message):
        parts.append(w.pick(["You're welcome.", f"{who} waves it off. \"Don't mention it.\"", "Anytime."]))
    elif _GREETING.search(message):
        if _NEGATIVE.search(message):
            parts.append(w.pick([f"{who} looks up.", "Oh, hello.", "Hey."]))
        else:
            parts.append(w.pick([f"{who} looks up and smiles.", f"{who} nods in greeting.", "Oh, hello there."]))
    # How the user feels matters more than the greeting: "Hi, I had a rough day" gets both.
    if _NEGATIVE.search(message):
        parts.append(w.pick([
            "That sounds rough. I'm sorry.",
            f"{who} softens. \"That sounds like a hard one.\"",
            "Ah. That's a lot to carry.",
        ]))
    elif _POSITIVE.search(message):
        parts.append(w.pick(["Now that's good to hear!", f"{who} grins. \"Excellent.\"", "Well, that's a fine thing."]))
    elif message.rstrip().endswith("?"):
        parts.append(w.pick(["A fair question.", f"{who} thinks about that for a moment.", "Hmm, let me think."]))
    elif not parts:
        parts.append(w.pick([f"{who} considers that for a moment.", "Hmm.", f"{who} raises an eyebrow."]))
    if scenario and w.chance(0.4):
        parts.append(w.pick([f"({scenario})", f"Remember where we are: {scenario}"]))
    if personality and w.chance(0.5):
        trait = _first_sentence(personality, 80).rstrip(".")
        words = trait.split()
        if words and not (len(words[0]) > 1 and words[0][1:2].isupper()):
            trait = words[0][:1].lower() + trait[1:]  # "Warm, witty" -> "warm, witty"; names keep caps
        parts.append(w.pick([f"Being {trait}, I'd say this:", "Here's what I think."]))
    topic = topic_of(message)
    if topic and _NEGATIVE.search(message):
        parts.append(w.pick([f"What happened with {topic}?", f"Tell me more about {topic}.", "What happened?"]))
    elif topic:
        parts.append(w.pick([f"Tell me more about {topic}.", f"Why {topic}?", f"{topic[:1].upper()}{topic[1:]}, you say?"]))
    else:
        parts.append(w.pick(["Go on.", "What do you do next?", "And then?"]))
    return " ".join(parts)


def npc_reply(ctx: Mapping[str, Any], w: _Writer) -> str:
    lines = [_clean(x) for x in ctx.get("lines") or [] if _clean(x)]
    player = _user_name(ctx) or "traveller"
    if lines:
        line = w.pick(lines)
    else:
        ch = _character(ctx)
        goal = _clean(ctx.get("goal"))
        line = f"{_clean(ch.get('name')) or 'The stranger'} watches you. " + (
            f"{goal}" if goal else "Say what you came to say."
        )
    # Authored lines may name the player: {player_name}; unknown placeholders stay as written.
    return re.sub(r"\{player_name\}", player, line)


def rule_decision(prompt: Prompt, choices: Sequence[str]) -> str:
    """Decide from ``context["decision_rules"]`` (see the package docstring)."""
    if not choices:
        raise ValueError("choices: give at least one choice")
    text = prompt.last_user.lower()
    for rule in prompt.context.get("decision_rules") or []:
        if not isinstance(rule, Mapping):
            continue
        decision = rule.get("decision")
        if decision not in choices:
            continue
        for kw in rule.get("keywords") or []:
            if re.search(r"(?<!\w)" + re.escape(str(kw).lower()) + r"(?!\w)", text):
                return str(decision)
        for pat in rule.get("patterns") or []:
            try:
                if re.search(str(pat), text, re.I):
                    return str(decision)
            except re.error:
                continue
    default = prompt.context.get("default_decision")
    return str(default) if default in choices else str(choices[0])


class ScriptedEngine:
    """Offline, deterministic: same prompt + seed -> same reply."""

    name = "scripted"
    model = "scripted"
    chunk_delay = 0.0  # seconds between chunks; 0 = as fast as the consumer reads

    def write(self, prompt: Prompt, *, temperature: float = 0.8, seed: int = 0) -> str:
        rng = random.Random((int(seed) * 1_000_003) ^ prompt.digest())
        w = _Writer(rng, greedy=temperature <= 0)
        kind = prompt.context.get("kind", "companion")
        if kind == "npc":
            return npc_reply(prompt.context, w)
        if kind in ("instance", "activity"):
            return activity_reply(prompt.context, w)
        return companion_reply(prompt.context, w)

    async def stream(
        self,
        prompt: Prompt,
        *,
        temperature: float = 0.8,
        max_tokens: int | None = None,
        seed: int = 0,
    ) -> AsyncIterator[str]:
        text = self.write(prompt, temperature=temperature, seed=seed)
        chunks = _WORD_CHUNK.findall(text)
        if max_tokens is not None:
            chunks = chunks[: max(1, max_tokens)]
            if chunks:
                chunks[-1] = chunks[-1].rstrip()
        for chunk in chunks:
            yield chunk
            await asyncio.sleep(self.chunk_delay)

    async def decide(self, prompt: Prompt, choices: Sequence[str]) -> str:
        return rule_decision(prompt, choices)
