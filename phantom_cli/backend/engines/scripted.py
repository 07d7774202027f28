"""The ``scripted`` engine: offline, no model, deterministic for a given seed.

It writes a reply from the structured ``Prompt.context`` (the character's fields, retrieved
memories, the user's profile, the NPC state's authored lines) with templates chosen by a
random generator seeded from the prompt's hash and shifted by the per-attempt ``seed``: the
same turn with the same seed gives the same reply, the next seed (a retry or swipe) a different
one, and a different turn a different one. It says what it is: its name is ``scripted`` and its
model ``scripted``.

**Memory.** When the user asks something that a retrieved memory (a profile fact) or something
they said earlier in the window answers — the question's content words overlap the statement's
— the reply answers from it ("Where did we go on Sunday?" after "We went to the beach on
Sunday." → "…the beach…"). This is the offline demonstration of memory, so it is deterministic:
the best-matching statement always wins, whatever the seed.

**Topics** for follow-up questions come from content words only (no function words, common
verbs, generic nouns such as "way", or possessive endings).

**Pace.** :meth:`ScriptedEngine.stream` yields word by word at ``pace`` words per second (the
``scripted_pace`` setting, default 40; 0 = as fast as the consumer reads, which the tests use).
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
    stressful keeps keep though really pretty quite i'm i've i'd i'll it's that's don't didn't can't won't you're what's
    way ways time times stuff people person guy guys part point fact case sense end rest moment reason
    heard hear hears hearing said says saying made make makes making took take takes taking saw see
    sees seen seeing came comes coming thought thinks thinking found find finds gave give gives given
    knew known felt feels feeling left leave leaves kept began begin brought bring bought buy wrote
    write sat sit stood stand ran run met meet paid pay meant mean sent send spent spend built build
    understood understand looked look looks looking seemed seem seems tried try tries trying asked ask
    asks asking used use uses using getting gets gotten does doing done did having been became become
    guess wonder wondering supposed everything anything nothing someone somebody anyone everyone
    whatever whenever wherever ours yours theirs myself yourself ourselves them themselves
    isn't aren't wasn't weren't doesn't haven't hasn't hadn't wouldn't couldn't shouldn't we're
    they're we've they've you've we'll they'll he's she's there's here's who's let's""".split()
)
# Irregular forms, so "did we go" matches "we went" (memory recall).
_LEMMA = {
    "went": "go", "gone": "go", "goes": "go", "going": "go", "did": "do", "does": "do", "done": "do",
    "saw": "see", "seen": "see", "ate": "eat", "eaten": "eat", "bought": "buy", "met": "meet",
    "had": "have", "has": "have", "made": "make", "took": "take", "taken": "take", "got": "get",
    "came": "come", "told": "tell", "said": "say", "gave": "give", "given": "give", "found": "find",
    "called": "call", "named": "call", "name": "call", "names": "call", "lives": "live", "lived": "live", "living": "live",
    "visited": "visit", "played": "play", "watched": "watch", "cooked": "cook", "moved": "move",
    "children": "child", "kids": "kid", "was": "be", "were": "be", "is": "be", "are": "be",
}
# Words that say nothing about what a statement is about (for memory matching).
_FUNCTION = frozenset(
    """a an the and or but so if then than that this these those i me my mine you your yours we us
    our ours he him his she her hers it its they them their theirs to of in on at by for with from
    about as into over under be am do have not no yes what who whom which when where why how did
    does can could would should will shall may might must just really very too also there here
    remember recall again tell say know think user user's""".split()
)
_WH = re.compile(r"^\s*(where|when|who|what|which|how|why|did|do|does|is|are|was|were|can|could|have|has)\b", re.I)
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


def _bare(word: str) -> str:
    """A word without a possessive ending, lower case ("cat's" -> "cat")."""
    w = word.lower().strip("'\"’")
    return re.sub(r"['’]s$", "", w) if w not in _STOP else w


def _lemma(word: str) -> str:
    w = _bare(word)
    if w in _LEMMA:
        return _LEMMA[w]
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            return w[: -len(suffix)] + repl
    return w


def content_words(text: str) -> set[str]:
    """The lemmas of a text's content words (memory matching)."""
    out = set()
    for raw in re.findall(r"[A-Za-z][A-Za-z'’-]*", text):
        w = _lemma(raw)
        if len(w) > 1 and w not in _FUNCTION and _bare(raw) not in _FUNCTION:
            out.add(w)
    return out


def is_question(message: str) -> bool:
    return message.rstrip().endswith("?") or bool(_WH.match(message))


def recall(question: str, facts: Sequence[str], said: Sequence[str] = ()) -> str | None:
    """The statement that best answers ``question``: the most content words in common (at least
    one that is not a bare verb like "go"); on a tie a profile fact (``facts``: kept up to date)
    beats something the user said (``said``, oldest first), and the most recent one wins.
    None when none matches."""
    q = content_words(question)
    if not q:
        return None
    weak = {"go", "be", "have", "do", "get", "make", "take", "come", "like", "want", "call", "name"}
    best: tuple[int, int, int, str] | None = None
    candidates = [(1, i, st) for i, st in enumerate(reversed(facts))] + [(0, i, st) for i, st in enumerate(said)]
    for is_fact, i, st in candidates:
        st = _clean(st)
        if not st or is_question(st):
            continue
        common = q & content_words(st)
        if not common - weak:
            continue
        key = (len(common), is_fact, i, st)
        if best is None or key[:3] > best[:3]:
            best = key
    return best[3] if best else None


_PLACE = re.compile(r"\b(?:to|at|in|into|near|by)\s+((?:the|a|an|my|our|his|her|their)\s+)?([A-Za-z][\w'-]*)", re.I)
_WHEN = re.compile(
    r"\b((?:on|last|this|next)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|week|weekend|"
    r"month|year|night|morning|evening)|yesterday|today|tonight|tomorrow|in\s+(?:january|february|march|"
    r"april|may|june|july|august|september|october|november|december))\b", re.I)


def _told(statement: str) -> str:
    """A user's own statement, retold to them ("I love jazz." -> "you love jazz")."""
    text = _clean(statement).rstrip(".!")
    if re.match(r"(?i)the user\b", text):
        return second_person(text)
    swaps = {"i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
             "i'm": "you're", "i've": "you've", "i'll": "you'll", "i'd": "you'd", "am": "are"}
    words = text.split(" ")
    out = [swaps.get(w.lower(), w) if w.lower() in swaps else w for w in words]
    if out and out[0] not in ("I",) and out[0][:1].isupper() and out[0].lower() not in ("you",):
        if out[0].lower() in ("we", "our", "us", "the", "a", "an", "my", "it", "there", "they"):
            out[0] = out[0].lower()
    return " ".join(out)


def answer_from(question: str, statement: str) -> str:
    """The answer part of ``statement`` for ``question`` (a place, a time, or the whole)."""
    q = question.strip().lower()
    if re.search(r"\bwhere\b", q):
        m = _PLACE.search(statement)
        if m:
            return f"{(m.group(1) or '').lower()}{m.group(2)}".strip()
    if re.search(r"\bwhen\b", q):
        m = _WHEN.search(statement)
        if m:
            return m.group(1).lower()
    return ""


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
        first, second = _bare(first), _bare(second)
        # "that big presentation" -> presentation; "my boss keeps…" -> boss
        noun = second if first in _ADJECTIVES and second else first
        if len(noun) > 2 and noun not in _STOP and not noun.endswith(("ed", "ly")):
            nouns.append((det.lower(), noun))
    if nouns:
        det, noun = max(nouns, key=lambda x: len(x[1]))
        return ("your " if det in ("my", "our") else "the ") + noun
    raw = [w.strip("'\"") for w in re.findall(r"[A-Za-z][A-Za-z'-]*", message)]
    words = [_bare(w) for w in raw]
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
    """Choices for one reply: ``rng`` comes from the prompt, ``shift`` from the attempt seed, so
    the next seed moves every multi-option choice to another option (a retry always differs)."""

    def __init__(self, rng: random.Random, greedy: bool, shift: int = 0) -> None:
        self.rng = rng
        self.greedy = greedy
        self.shift = shift

    def pick(self, options: Sequence[str]) -> str:
        if self.greedy:
            return options[0]
        return options[(self.rng.randrange(len(options)) + self.shift) % len(options)]

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
    memories = [m for m in ctx.get("memories") or [] if isinstance(m, str) and m.strip()]
    addressee = f", {you}" if you else ""

    # 0. A question that a memory or something said earlier answers: answer from it.
    if is_question(message):
        earlier = [x for x in ctx.get("earlier_user_messages") or [] if isinstance(x, str)]
        found = recall(message, memories, earlier)
        if found is not None:
            told = _told(found)
            short = answer_from(message, found)
            if short:
                parts.append(w.pick([f"{short[:1].upper()}{short[1:]}{addressee}!",
                                     f"That was {short}{addressee}.", f"Oh, {short}{addressee}."]))
            parts.append(w.pick([f"You told me {told}{addressee}.", f"I remember{addressee}: {told}.",
                                 f"Of course I remember{addressee}: {told}."]))
            parts.append(w.pick(["What made you think of it?", "Do you want to go back?",
                                 "Tell me more about it."]))
            return " ".join(parts)

    # 1. Opening, addressing the user when the profile knows their name.
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
    DEFAULT_PACE = 40.0  # words per second

    def __init__(self, pace: float = 0.0) -> None:
        """``pace``: words per second when streaming (0 = no delay). The server passes its
        ``scripted_pace`` setting (default :attr:`DEFAULT_PACE`)."""
        if pace < 0:
            raise ValueError("scripted_pace: must be >= 0 words per second")
        self.pace = float(pace)
        # seconds between words; 0 = as fast as the consumer reads
        self.chunk_delay = 1.0 / self.pace if self.pace > 0 else 0.0

    def unpaced(self) -> ScriptedEngine:
        """The same engine without the word-by-word delay, for a reply nobody watches stream
        (a non-streamed request: JSON back in one piece, as fast as it is written)."""
        return self if not self.chunk_delay else ScriptedEngine(0.0)

    def write(self, prompt: Prompt, *, temperature: float = 0.8, seed: int = 0) -> str:
        rng = random.Random(prompt.digest())
        w = _Writer(rng, greedy=temperature <= 0, shift=int(seed))
        kind = prompt.context.get("kind", "companion")
        if kind == "companion":
            users = [m.content for m in prompt.messages if m.role == "user"]
            ctx = {**prompt.context, "earlier_user_messages": users[:-1]}
            return companion_reply(ctx, w)
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
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)

    async def decide(self, prompt: Prompt, choices: Sequence[str]) -> str:
        return rule_decision(prompt, choices)
