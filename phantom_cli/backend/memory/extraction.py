"""Memory extraction: durable facts about the user from the user's own messages.

- ``scripted`` engine: rules (``extract_rules``) for the ways people state lasting facts —
  "my name is …", "call me …", "I'm 30", "I live in …", "I moved to …", "I'm from …",
  "I work as …", "I'm a nurse", "I like/love/enjoy …", "I hate/can't stand …",
  "my sister is …", "my dog's name is …", "my favourite X is Y", "I have a dog named …".
- LLM engines: a JSON-schema constrained completion (``FACT_SCHEMA``); if the model fails or
  answers nothing usable, the rules run instead so a turn's facts are not lost.

Facts are then merged into the vector store (duplicates merged, changed facts replace the old
value and keep it as history) and the structured profile is rebuilt.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .store import KEYED_SLOTS, LIST_SLOTS, SINGLE_SLOTS, SLOTS

log = logging.getLogger("phantom.backend.memory")


@dataclass(frozen=True)
class Fact:
    slot: str
    key: str
    value: str
    text: str


FACT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "slot": {"type": "string", "enum": list(SLOTS)},
                    "key": {"type": "string"},
                    "value": {"type": "string"},
                    "text": {"type": "string"},
                },
                "required": ["slot", "key", "value", "text"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["facts"],
    "additionalProperties": False,
}

RELATIONS = frozenset(
    """mother mom mum mama father dad papa parents sister brother sibling siblings wife husband
    partner boyfriend girlfriend fiance fiancee son daughter kids children child baby grandma
    grandmother grandpa grandfather aunt uncle cousin niece nephew friend bestie boss roommate
    flatmate neighbour neighbor colleague coworker teacher therapist""".split()
)
PETS = frozenset("dog cat puppy kitten hamster rabbit bunny parrot bird fish turtle snake horse lizard ferret".split())
EPHEMERAL = frozenset(
    """day week weekend morning night evening head back stomach mood phone battery internet
    train bus flight coffee lunch dinner breakfast plan plans meeting presentation exam""".split()
)
JOB_WORDS = frozenset(
    """nurse doctor teacher student engineer developer programmer designer artist writer lawyer
    chef cook baker farmer pilot driver accountant architect scientist researcher musician
    singer actor actress photographer journalist editor manager consultant cashier waiter
    waitress barista firefighter paramedic plumber electrician carpenter mechanic pharmacist
    dentist vet veterinarian therapist psychologist librarian professor lecturer analyst
    freelancer entrepreneur soldier officer police policeman policewoman clerk translator
    tutor coach trainer streamer gamer intern""".split()
)
NOT_NAMES = frozenset(
    """so just really very not fine good okay ok sorry tired happy sad here back home busy
    sure glad excited bored hungry sick done ready going trying feeling a an the from in at on
    with into still always never also only new off out up down""".split()
)
_STOP_AT = re.compile(
    r"(?:^|\s+)(?:and|but|because|cause|so|since|though|although|which|who|where|when|while|if|now|"
    r"too|as well|right now|these days|nowadays|lately|originally|actually|today|tonight|now)\b.*$",
    re.I,
)
_END = r"([^.,;!?\n]+)"
# Words that are never a fact value on their own ("The user likes and." was stored once).
STOP_WORDS = frozenset(
    """a an the and or but nor so yet to of in on at by for with from into onto about as than
    then is are was were be been being am do does did it its it's this that these those what
    whats what's when where who whom whose why how which whether if i me my mine you your yours
    we us our he him his she her they them their there here not no just very too also really
    some any all more most much many such own same other one ones something anything everything
    nothing thing things stuff""".split()
)
# A clause that asks or requests rather than states: "Remind me what drink I like", "Do I…?".
_QUESTION_START = re.compile(
    r"^\s*(?:(?:so|and|but|hey|hi|ok|okay|oh|um|well)[\s,]+)?"
    r"(?:what|what's|whats|which|when|where|who|whom|whose|why|how|do|does|did|is|are|was|were|"
    r"can|could|would|will|should|shall|have|has|had|am|remind\s+me|tell\s+me|any\s+idea|"
    r"do\s+you\s+(?:remember|know|recall))\b",
    re.I,
)
# "…what (drink) I like", "…when I love…": an embedded question, not a statement.
_EMBEDDED_WH = re.compile(r"\b(?:what|which|whatever|when|where|how|whether|if)\b[^,;]*$", re.I)
_DATE_TOKEN = re.compile(
    r"(?i)\b(?:mon|tues|wednes|thurs|fri|satur|sun)day|\b(?:today|tomorrow|tonight|weekend|week|"
    r"weeks|month|months|year|days|morning|afternoon|evening|noon|midnight|january|february|march|"
    r"april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|"
    r"sep|sept|oct|nov|dec)\b|\b\d{1,2}(?::\d{2})?\s*(?:am|pm|h)?\b|\b\d{1,2}(?:st|nd|rd|th)\b"
)
_WHEN_START = re.compile(r"(?i)^(?:on|at|in|by|this|next|tomorrow|today|tonight|coming)\b")
_EVENT_END = re.compile(r"(?i)\s+(?:and|but|because|so|since|though|which|who|if)\b.*$")


def is_question(clause: str) -> bool:
    """Whether a clause asks (or asks to be reminded) rather than states something."""
    return bool(_QUESTION_START.match(clause))


def _statement_part(sentence: str) -> str:
    """The stated part of a sentence: clauses that ask something are dropped.

    "My name is Sam, what's yours?" keeps "My name is Sam"; "Remind me what drink I like and
    when my presentation is" keeps nothing; a sentence ending in "?" loses its last clause.
    """
    clauses = [c.strip() for c in re.split(r",\s*", sentence)]
    if sentence.rstrip().endswith("?"):
        clauses = clauses[:-1]
    return ", ".join(c for c in clauses if c and not is_question(c))


def _event_value(raw: str) -> str | None:
    """ "on Friday", "at 9am tomorrow": when something of the user's happens, else None."""
    v = _EVENT_END.sub("", " ".join(raw.split())).strip(" \"'()-").rstrip(".")
    words = v.split()
    if not words or len(words) > 6 or not _WHEN_START.match(v) or not _DATE_TOKEN.search(v):
        return None
    return v


def is_stop_value(value: str) -> bool:
    """True when a value has no content word ("and", "the", "it"): never a fact."""
    words = re.findall(r"[\w']+", value.lower())
    return not words or all(w in STOP_WORDS for w in words)


# Trailing intensifiers and hedges say how much, not what: "coffee at all" -> "coffee".
_TRAILING = re.compile(
    r"(?:\s+(?:at all|very much|so much|that much|too much|a lot|a bit|a little|anymore|any more|"
    r"either|really|honestly|tbh|lol|haha|though|ever|much|whatsoever|these days|nowadays|to be honest))+$",
    re.I,
)


def _value(raw: str, max_words: int = 6) -> str | None:
    v = _STOP_AT.sub("", raw.strip())
    v = v.strip(" \"'()[]-").rstrip(".!")
    v = _TRAILING.sub("", v).strip(" \"'()[]-")
    words = v.split()
    if not words or len(words) > max_words:
        return None
    return " ".join(words)


def _article(v: str) -> str:
    if re.match(r"(?i)(a|an|the)\s", v):
        return v
    return ("an " if v[:1].lower() in "aeiou" else "a ") + v


def _title(v: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in v.split())


def _sentences(message: str) -> list[str]:
    parts = re.split(r"(?<=[.!?\n])\s+|\s*[;\n]\s*", message)
    return [p.strip() for p in parts if p and p.strip()]


def make_fact(slot: str, key: str, value: str) -> Fact | None:
    """A fact with its third-person sentence; ``None`` if the slot is unknown or value empty."""
    value = " ".join(str(value).split()).strip(" .")
    key = " ".join(str(key).split()).strip(" .").lower()
    if slot not in SLOTS or not value or (is_stop_value(value) and value.lower() not in ("yes", "true")):
        return None
    if slot == "name":
        text = f"The user's name is {value}."
    elif slot == "age":
        text = f"The user is {value} years old."
    elif slot == "location":
        text = f"The user lives in {value}."
    elif slot == "hometown":
        text = f"The user is from {value}."
    elif slot == "job":
        text = f"The user works as {_article(value)}."
    elif slot in ("likes", "dislikes"):
        # "my cat" in the user's words is "their cat" in a fact about the user
        value = re.sub(r"(?i)^(my|our)\s+", "their ", value)
        text = f"The user {slot} {value}."
    elif slot == "relationships":
        text = f"The user's {key or 'friend'} is {value}."
    elif slot == "pets":
        text = f"The user has a {key or 'pet'} named {value}." if value.lower() not in ("yes", "true") \
            else f"The user has a {key or 'pet'}."
    else:
        text = f"The user's {key or 'fact'} is {value}."
    if slot in SINGLE_SLOTS:
        key = ""
    elif slot in LIST_SLOTS:
        key = value.lower()
    return Fact(slot, key, value, text)


def _facts_from_sentence(s: str) -> list[Fact]:
    out: list[Fact] = []

    def add(slot: str, key: str, value: str | None) -> None:
        if value:
            f = make_fact(slot, key, value)
            if f:
                out.append(f)

    s = _statement_part(s)
    if not s:
        return out
    low = s.lower()
    # name
    m = re.search(r"\b(?i:my name(?:'s| is))\s+([A-Za-z][\w'-]*(?:\s+(?!And\b|But\b)[A-Z][\w'-]*)?)", s)
    if not m:
        m = re.search(r"\b(?:call me|i go by)\s+([a-z][\w'-]*)", s, re.I)
    if m:
        add("name", "", _title(m.group(1)))
    else:
        m = re.search(r"\b(?:I am|I'm|Im|this is)\s+([A-Z][a-z'-]+)\b(?!\s+(?:years?|yo)\b)", s)
        if m and m.group(1).lower() not in NOT_NAMES and m.group(1).lower() not in JOB_WORDS:
            add("name", "", m.group(1))
    # age
    m = re.search(r"\b(?:i am|i'm|im)\s+(\d{1,3})(?:\s*(?:years?\s+old|yo|y/o|yrs?\s+old))?\s*(?:$|[.,!?])", low) or \
        re.search(r"\b(?:i am|i'm|im)\s+(\d{1,3})\s+years?\s+old\b", low)
    if m and 3 <= int(m.group(1)) <= 120:
        add("age", "", m.group(1))
    # location
    m = re.search(r"\bi\s+(?:now\s+|currently\s+)?(?:live|am living|'m living|reside|stay)\s+in\s+" + _END, s, re.I) or \
        re.search(r"\bi(?:'ve| have)?\s+(?:just\s+|recently\s+)?moved\s+to\s+" + _END, s, re.I) or \
        re.search(r"\bi(?:'m| am)\s+based\s+in\s+" + _END, s, re.I)
    if m:
        v = _value(m.group(1), 4)
        if v and v.lower() not in ("a", "the", "here", "there"):
            add("location", "", _title(v) if v.islower() else v)
    # hometown
    m = re.search(r"\bi(?:'m| am)\s+(?:originally\s+)?from\s+" + _END, s, re.I) or \
        re.search(r"\bi\s+grew\s+up\s+in\s+" + _END, s, re.I)
    if m:
        v = _value(m.group(1), 4)
        if v:
            add("hometown", "", _title(v) if v.islower() else v)
    # job
    m = re.search(r"\b(?:i|and)\s+work\s+as\s+(?:an?\s+)?" + _END, s, re.I) or \
        re.search(r"\bmy\s+job\s+is\s+(?:being\s+)?(?:an?\s+)?" + _END, s, re.I)
    if m:
        add("job", "", _value(re.sub(r"(?i)\s+(?:at|in|for|with)\s.*$", "", m.group(1)), 4))
    else:
        m = re.search(r"\bi(?:'m| am)\s+an?\s+((?:[a-z-]+\s+)?([a-z-]+))\b", low)
        if m and (m.group(2) in JOB_WORDS or re.search(r"(?:ist|ian|eer)$", m.group(2))):
            add("job", "", m.group(1))
    m = re.search(r"\bi\s+work\s+(?:at|for)\s+" + _END, s, re.I)
    if m:
        add("facts", "workplace", _value(m.group(1), 5))
    # likes / dislikes
    for m in re.finditer(
        r"\bi\s+(?:really\s+|absolutely\s+|just\s+|also\s+|totally\s+)?(like|love|enjoy|adore)\s+" + _END, s, re.I
    ):
        if _EMBEDDED_WH.search(s[: m.start()]):
            continue  # "…what drink I like": a question about a like, not a like
        v = _value(m.group(2), 5)
        if v and not re.match(r"(?i)(you|it|that|this|him|her|them|how|when|what|the way|to talk|talking to you)\b", v):
            add("likes", v.lower(), v)
    for m in re.finditer(
        r"\bi\s+(?:really\s+|absolutely\s+|just\s+|also\s+|totally\s+)?"
        r"(hate|dislike|can't stand|cannot stand|cant stand|don't like|dont like|do not like|detest)\s+" + _END,
        s,
        re.I,
    ):
        if _EMBEDDED_WH.search(s[: m.start()]):
            continue
        v = _value(m.group(2), 5)
        if v and not re.match(r"(?i)(you|it|that|this|him|her|them|when|how|what)\b", v):
            add("dislikes", v.lower(), v)
    # my X's name is Y / my X is called Y / my favourite X is Y / my X is Y
    m = re.search(r"\bmy\s+([a-z]+)(?:'s|s)?\s+name\s+is\s+([A-Za-z][\w'-]*)", s, re.I) or \
        re.search(r"\bmy\s+([a-z]+)\s+is\s+(?:called|named)\s+([A-Za-z][\w'-]*)", s, re.I)
    if m:
        who = m.group(1).lower()
        name = _title(m.group(2))
        if who in PETS:
            add("pets", who, name)
        elif who in RELATIONS:
            add("relationships", who, name)
    else:
        m = re.search(r"\bmy\s+(favou?rite\s+[a-z]+(?:\s+[a-z]+)?)\s+(?:is|are)\s+" + _END, s, re.I)
        if m:
            add("facts", m.group(1).lower().replace("favourite", "favorite"), _value(m.group(2), 5))
        else:
            m = re.search(r"\bmy\s+([a-z]+)(?:\s+(?:is|are|was|will\s+be)|'s)\s+" + _END, s, re.I)
            event = _event_value(m.group(2)) if m and m.group(1).lower() not in RELATIONS | PETS else None
            if m and event:
                # "my presentation is on Friday": when something of the user's happens
                add("facts", m.group(1).lower(), event)
            elif m:
                who = m.group(1).lower()
                v = _value(m.group(2), 5)
                if v and who in RELATIONS and re.match(r"[A-Z]", v) and len(v.split()) <= 3:
                    add("relationships", who, v)
                elif v and who in RELATIONS and re.match(r"(?i)an?\s", v):
                    add("facts", who, v)
                elif v and who in PETS and re.match(r"[A-Z]", v):
                    add("pets", who, v)
    # I have a dog (named Rex) / two kids
    m = re.search(
        r"\bi\s+(?:have|have got|'ve got|got)\s+(a|an|one|two|three|four|\d+)\s+([a-z]+)"
        r"(?:\s+(?:named|called)\s+([A-Za-z][\w'-]*))?",
        s,
        re.I,
    )
    if m:
        count, noun, name = m.group(1).lower(), m.group(2).lower(), m.group(3)
        single = noun[:-1] if noun.endswith("s") and noun[:-1] in PETS else noun
        if single in PETS:
            add("pets", single, _title(name) if name else ("yes" if count in ("a", "an", "one") else count))
        elif noun in RELATIONS or single in RELATIONS:
            add("relationships", noun, _title(name) if name else count)
    return out


def extract_rules(messages: Iterable[str]) -> list[Fact]:
    """Facts stated in the user's messages, in order (later statements after earlier ones)."""
    facts: list[Fact] = []
    for message in messages:
        for sentence in _sentences(message):
            for f in _facts_from_sentence(sentence):
                if f.slot in ("facts", "relationships", "pets") and f.key in EPHEMERAL \
                        and _event_value(f.value) is None:
                    continue  # "my day is going badly"; a dated event ("on Friday") is kept
                facts.append(f)
    return facts


def facts_from_llm(data: Any) -> list[Fact]:
    """Facts from a model's JSON answer (invalid items are dropped)."""
    out: list[Fact] = []
    items = data.get("facts") if isinstance(data, dict) else None
    for item in items or []:
        if not isinstance(item, dict):
            continue
        f = make_fact(str(item.get("slot", "")), str(item.get("key", "")), str(item.get("value", "")))
        if f:
            text = str(item.get("text") or "").strip()
            if text.lower().startswith("the user") and len(text) <= 300:
                f = Fact(f.slot, f.key, f.value, text if text.endswith(".") else text + ".")
            out.append(f)
    return out


async def extract(engine: Any, messages: Sequence[str], profile: dict[str, Any] | None) -> list[Fact]:
    """Facts via the engine (LLM engines) or the rules (scripted / on failure)."""
    if getattr(engine, "name", "scripted") != "scripted" and hasattr(engine, "complete_json"):
        from ..prompts import extraction_prompt

        try:
            data = await engine.complete_json(extraction_prompt(messages, profile), FACT_SCHEMA, "user_facts")
            facts = facts_from_llm(data)
            if facts:
                return facts
        except Exception as exc:  # noqa: BLE001 - fall back to the rules, keep the turn's facts
            log.warning("LLM extraction failed (%s); using the rule-based extractor", exc)
    return extract_rules(messages)


__all__ = ["FACT_SCHEMA", "Fact", "KEYED_SLOTS", "extract", "extract_rules", "facts_from_llm", "make_fact"]
