"""Offline moderation: inbound refusal and outbound filtering from a policy that is data.

The policy (``policy.json`` beside this module by default, or any JSON/TOML file given by the
``moderation_policy`` setting) lists categories, each with the directions it applies to,
whole-word ``terms`` and regular-expression ``patterns``, plus refusal and fallback lines.

Text is normalised before matching so that common evasions do not slip through:

- Unicode: NFKC (full-width and stylised letters), confusable Cyrillic/Greek letters, accents
  stripped, zero-width and soft-hyphen characters removed, case folded;
- leetspeak: 0→o 1→i/l 3→e 4→a 5→s 7→t 8→b @→a $→s |→l, and ! inside a word →i (both
  readings of 1 and |);
- punctuation between letters ("k.i.l.l", "k-i-l-l") and spaced-out letters ("k i l l");
- repeated letters ("kiiiilll"): a word matches a term when both squeeze to the same letters
  and the word is not shorter than the term (so "as" never matches "ass").

Matching is by whole words after that, which keeps ordinary words clear of the lists
("skill" ≠ "kill", "assassin"/"class" ≠ "ass", "Scunthorpe").

A category may also list ``allow`` patterns: regular expressions over the normalised text for
idioms that use a listed word harmlessly ("I'd kill for a coffee", "this song kills me",
"killing time"). A term or pattern match that lies wholly inside an allowed span of its own
category is ignored; anything else in the same message is still checked ("I'd kill for a
coffee. I will kill you" is refused).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_POLICY = Path(__file__).with_name("policy.json")

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u034f\u180e"), None)
_CONFUSABLES = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ӏ": "l", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ς": "s", "σ": "s",
    # Latin look-alikes NFKC keeps
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe",
})
_LEET_COMMON = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "+": "t", "€": "e"}
_LEET_I = str.maketrans({**_LEET_COMMON, "1": "i", "|": "i"})
_LEET_L = str.maketrans({**_LEET_COMMON, "1": "l", "|": "l"})
_BANG = re.compile(r"(?<=[a-z0-9])!+(?=[a-z0-9])")  # "k!ll", never a sentence's final "!"
_INNER_PUNCT = re.compile(r"(?<=[a-z])[.\-_*'`~^:,;/\\]+(?=[a-z])")
_WORDS = re.compile(r"[a-z]+")
_SQUEEZE = re.compile(r"(.)\1+")


def _base(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).casefold()
    text = text.translate(_CONFUSABLES)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text


def _words(text: str) -> list[str]:
    """Words of a leet-mapped lowercase text, with spaced-out letters joined back."""
    text = _INNER_PUNCT.sub("", text)
    tokens = _WORDS.findall(text)
    out: list[str] = []
    run: list[str] = []
    for tok in [*tokens, ""]:
        if len(tok) == 1:
            run.append(tok)
            continue
        if len(run) >= 3:
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if tok:
            out.append(tok)
    return out


def normalize_variants(text: str) -> list[list[str]]:
    """The normalised word lists of ``text`` (one per reading of ambiguous leet characters)."""
    base = _BANG.sub("i", _base(text))
    a = _words(base.translate(_LEET_I))
    b = _words(base.translate(_LEET_L))
    return [a] if a == b else [a, b]


_WORDS_DIGITS = re.compile(r"[a-z0-9]+")


def normalize_digits(text: str) -> str:
    """A normalised reading that keeps digits as digits ("I'm 14!" -> "im 14")."""
    base = _INNER_PUNCT.sub("", _base(text))
    return " ".join(_WORDS_DIGITS.findall(base))


def normalize(text: str) -> str:
    """The first normalised reading as one string (for display and patterns)."""
    return " ".join(normalize_variants(text)[0])


def squeeze(word: str) -> str:
    return _SQUEEZE.sub(r"\1", word)


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    category: str | None = None
    matched: str | None = None

    @property
    def reason(self) -> str | None:
        return self.category


@dataclass
class _Term:
    words: tuple[str, ...]
    squeezed: tuple[str, ...]
    category: str


@dataclass
class Policy:
    categories: dict[str, dict[str, Any]]
    refusals: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)
    self_harm_refusal: str | None = None
    source: str = "built-in"

    def __post_init__(self) -> None:
        self._index: dict[str, dict[str, list[_Term]]] = {"inbound": {}, "outbound": {}}
        self._patterns: dict[str, list[tuple[re.Pattern[str], str]]] = {"inbound": [], "outbound": []}
        self._allow: dict[str, list[re.Pattern[str]]] = {}
        for cat, spec in self.categories.items():
            for pat in spec.get("allow") or []:
                try:
                    self._allow.setdefault(cat, []).append(re.compile(str(pat)))
                except re.error as exc:
                    raise ValueError(f"moderation policy: category {cat!r}: bad allow pattern {pat!r}: {exc}") from exc
            directions = spec.get("directions") or ["inbound", "outbound"]
            for d in directions:
                if d not in self._index:
                    raise ValueError(f"moderation policy: category {cat!r}: unknown direction {d!r}")
            for raw in spec.get("terms") or []:
                words = tuple(normalize_variants(str(raw))[0])
                if not words:
                    continue
                term = _Term(words, tuple(squeeze(w) for w in words), cat)
                for d in directions:
                    self._index[d].setdefault(term.squeezed[0], []).append(term)
            for pat in spec.get("patterns") or []:
                try:
                    rx = re.compile(str(pat))
                except re.error as exc:
                    raise ValueError(f"moderation policy: category {cat!r}: bad pattern {pat!r}: {exc}") from exc
                for d in directions:
                    self._patterns[d].append((rx, cat))

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_data(cls, data: dict[str, Any], source: str = "data") -> Policy:
        cats = data.get("categories")
        if not isinstance(cats, dict) or not cats:
            raise ValueError(f"moderation policy {source}: 'categories' must be a non-empty table")
        return cls(
            categories={str(k): dict(v) for k, v in cats.items()},
            refusals=[str(x) for x in data.get("refusals") or []],
            fallbacks=[str(x) for x in data.get("fallbacks") or []],
            self_harm_refusal=data.get("self_harm_refusal"),
            source=source,
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policy:
        """Load a JSON or TOML policy file (the shipped default when ``path`` is None)."""
        p = Path(path).expanduser() if path else DEFAULT_POLICY
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise ValueError(f"moderation_policy: cannot read {p}: {exc.strerror or exc}") from exc
        try:
            if p.suffix.lower() == ".toml":
                import tomllib

                data = tomllib.loads(raw.decode("utf-8"))
            else:
                data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"moderation_policy: {p} is not valid {p.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
        return cls.from_data(data, source=str(p))

    # ------------------------------------------------------------------ checks

    def check(self, text: str, direction: str = "inbound") -> Verdict:
        index = self._index[direction]
        variants = normalize_variants(text)
        for words in variants:
            joined = " ".join(words)
            allowed = self._allowed_spans(joined)
            hit = self._match_terms(words, index, allowed)
            if hit:
                return hit
            hit = self._match_patterns(joined, direction, allowed)
            if hit:
                return hit
        # The leetspeak readings turn digits into letters ("14" -> "ia"); patterns about ages
        # ("im 14") also see a reading that keeps them.
        digits = normalize_digits(text)
        if digits not in (" ".join(w) for w in variants):
            return self._match_patterns(digits, direction, self._allowed_spans(digits)) or Verdict(False)
        return Verdict(False)

    def _match_patterns(
        self, joined: str, direction: str, allowed: dict[str, list[tuple[int, int]]]
    ) -> Verdict | None:
        for rx, cat in self._patterns[direction]:
            for m in rx.finditer(joined):
                if not _inside(_word_span(joined, m.start(), m.end()), allowed.get(cat, ())):
                    return Verdict(True, cat, m.group(0))
        return None

    def _allowed_spans(self, joined: str) -> dict[str, list[tuple[int, int]]]:
        """Per category, the word ranges ``[start, end)`` its ``allow`` idioms cover."""
        spans: dict[str, list[tuple[int, int]]] = {}
        for cat, patterns in self._allow.items():
            for rx in patterns:
                for m in rx.finditer(joined):
                    if m.end() > m.start():
                        spans.setdefault(cat, []).append(_word_span(joined, m.start(), m.end()))
        return spans

    def inbound(self, text: str) -> Verdict:
        return self.check(text, "inbound")

    def outbound(self, text: str) -> Verdict:
        return self.check(text, "outbound")

    @staticmethod
    def _match_terms(
        words: Sequence[str],
        index: dict[str, list[_Term]],
        allowed: dict[str, list[tuple[int, int]]] | None = None,
    ) -> Verdict | None:
        sq = [squeeze(w) for w in words]
        for i, s in enumerate(sq):
            for term in index.get(s, ()):
                n = len(term.words)
                if i + n > len(words):
                    continue
                if all(
                    sq[i + j] == term.squeezed[j] and len(words[i + j]) >= len(term.words[j])
                    for j in range(n)
                ):
                    if allowed and _inside((i, i + n), allowed.get(term.category, ())):
                        continue  # an idiom of this category ("kill for a coffee")
                    return Verdict(True, term.category, " ".join(words[i : i + n]))
        return None

    # ------------------------------------------------------------------ replies

    def refusal(self, name: str, category: str | None, pick: int = 0) -> str:
        """The canned in-character refusal for an inbound message, in the persona's voice."""
        if category == "self_harm" and self.self_harm_refusal:
            template = self.self_harm_refusal
        elif self.refusals:
            template = self.refusals[pick % len(self.refusals)]
        else:
            template = "I'm {name}, and that's something I won't talk about. Can we talk about something else?"
        return _fill(template, name)

    def fallback(self, name: str, pick: int = 0) -> str:
        """The safe reply that replaces an unsafe generated one."""
        if self.fallbacks:
            return _fill(self.fallbacks[pick % len(self.fallbacks)], name)
        return "Let me say that more kindly: I'm here, and I'm listening."


def _word_span(joined: str, start: int, end: int) -> tuple[int, int]:
    """Character offsets in ``" ".join(words)`` → the word range ``[first, last + 1)``."""
    first = joined.count(" ", 0, start)
    last = joined.count(" ", 0, max(start, end - 1))
    return first, last + 1


def _inside(span: tuple[int, int], spans: Iterable[tuple[int, int]]) -> bool:
    return any(a <= span[0] and span[1] <= b for a, b in spans)


def _fill(template: str, name: str) -> str:
    return template.replace("{name}", name)


@lru_cache(maxsize=8)
def _cached(path: str | None) -> Policy:
    return Policy.load(path)


def get_policy(settings: Any = None) -> Policy:
    """The policy the settings select (``moderation_policy`` path), cached per path."""
    from ..engines import setting

    path = setting(settings, "moderation_policy")
    return _cached(str(path) if path else None)
