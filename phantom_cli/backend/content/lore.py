"""Lorebook (world info) activation, following SillyTavern's ``world-info.js``.

A book is stored in the V2/V3 ``character_book`` shape; SillyTavern's own entry settings live in
each entry's ``extensions`` (as SillyTavern writes them when it embeds a book in a card). Per entry:

- **keys**: a key written ``/pattern/flags`` is a regular expression (SillyTavern's form; flags
  ``i``, ``s``, ``m``, ``u``, ``g``, ``y`` accepted). With V3's ``use_regex: true`` every key is a
  pattern. Otherwise a key is literal text, matched case-insensitively unless ``case_sensitive``;
  with ``match_whole_words`` a one-word key must stand as a whole word.
- **secondary keys** (``selective``): ``selectiveLogic`` 0 AND ANY, 1 NOT ALL, 2 NOT ANY,
  3 AND ALL (SillyTavern's numbering).
- ``constant`` entries are always on; disabled (``enabled: false``) ones never.
- **probability** (``extensions.probability`` 0-100 with ``useProbability``): rolled with a seeded
  RNG (the seed, the chat id, the turn and the entry), so a turn is reproducible.
- **order**: ``insertion_order`` (SillyTavern's ``order``); higher is inserted later (closer to
  the chat) and is served first when the **token budget** (``token_budget``, ≈ 4 characters a
  token) runs out — then scanning stops, as in SillyTavern.
- **position**: ``before_char`` (0) / ``after_char`` (1) the character definition; ``an_top`` (2)
  and ``an_bottom`` (3) go after it too (there is no author's note); ``at_depth`` (4, with
  ``extensions.depth``) as a system message that many messages before the end; ``em_top`` (5) /
  ``em_bottom`` (6) around the example dialogue.
- **recursion**: the content of activated entries is added to the scanned text (the chat) and
  scanned again for the other entries (not for entries with ``exclude_recursion``; content of
  entries with ``prevent_recursion`` is not added), at most ``MAX_RECURSION`` rounds.

:func:`activate` returns the activated entries with what fired them (key, secondary key,
recursion round), which the prompt record keeps.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_SCAN_DEPTH = 4
MAX_RECURSION = 3
CHARS_PER_TOKEN = 4

#: SillyTavern's numeric positions -> our names
POSITIONS = {0: "before_char", 1: "after_char", 2: "an_top", 3: "an_bottom", 4: "at_depth",
             5: "em_top", 6: "em_bottom"}  # fmt: skip
POSITION_NUMBERS = {v: k for k, v in POSITIONS.items()}
#: SillyTavern's ``selectiveLogic``
LOGIC = {0: "and_any", 1: "not_all", 2: "not_any", 3: "and_all"}
LOGIC_NUMBERS = {v: k for k, v in LOGIC.items()}

_REGEX_KEY = re.compile(r"^/([\w\W]+?)/([gimsuy]*)$")


def parse_regex_key(key: str) -> re.Pattern[str] | None:
    """``/pattern/flags`` -> a compiled pattern (None when ``key`` is not in that form or the
    pattern does not compile)."""
    m = _REGEX_KEY.match(key.strip())
    if not m:
        return None
    flags = 0
    for f in m.group(2):
        flags |= {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE}.get(f, 0)
    try:
        return re.compile(m.group(1), flags)
    except re.error:
        return None


def is_regex_key(key: str) -> bool:
    return parse_regex_key(key) is not None


def _opt(entry: dict[str, Any], key: str, ext_key: str | None = None) -> Any:
    """An entry setting: the top-level field, else SillyTavern's copy in ``extensions``."""
    if entry.get(key) is not None:
        return entry[key]
    ext = entry.get("extensions") or {}
    return ext.get(ext_key or key) if isinstance(ext, dict) else None


def entry_position(entry: dict[str, Any]) -> str:
    ext = entry.get("extensions") or {}
    num = ext.get("position") if isinstance(ext, dict) else None
    if isinstance(num, int) and not isinstance(num, bool) and num in POSITIONS:
        return POSITIONS[num]
    pos = entry.get("position")
    if isinstance(pos, int) and not isinstance(pos, bool) and pos in POSITIONS:
        return POSITIONS[pos]
    return pos if pos in POSITION_NUMBERS else "before_char"


def entry_logic(entry: dict[str, Any]) -> str:
    v = _opt(entry, "selective_logic", "selectiveLogic")
    if isinstance(v, str) and v.lower() in LOGIC_NUMBERS:
        return v.lower()
    return LOGIC.get(v, "and_any") if isinstance(v, int) and not isinstance(v, bool) else "and_any"


def entry_probability(entry: dict[str, Any]) -> float:
    use = _opt(entry, "use_probability", "useProbability")
    p = _opt(entry, "probability")
    if use is False or not isinstance(p, int | float) or isinstance(p, bool):
        return 100.0
    return max(0.0, min(100.0, float(p)))


def entry_id(entry: dict[str, Any], index: int) -> str:
    v = entry.get("id")
    if v is None:
        v = (entry.get("extensions") or {}).get("uid") if isinstance(entry.get("extensions"), dict) else None
    return str(v if v is not None else index)


def key_matches(key: str, text: str, *, case_sensitive: bool, whole_words: bool,
                use_regex: bool = False) -> bool:
    """Whether one key occurs in ``text`` (SillyTavern's ``matchKeys``)."""
    if not key or not key.strip():
        return False
    rx = parse_regex_key(key)
    if rx is not None:
        return rx.search(text) is not None
    if use_regex:
        try:
            return re.search(key, text, 0 if case_sensitive else re.IGNORECASE) is not None
        except re.error:
            return False
    hay, needle = (text, key.strip()) if case_sensitive else (text.lower(), key.strip().lower())
    if whole_words and len(needle.split()) == 1:
        return re.search(rf"(?:^|\W)({re.escape(needle)})(?:$|\W)", hay) is not None
    return needle in hay


@dataclass
class Activated:
    lorebook_id: str
    entry: dict[str, Any]
    entry_id: str
    content: str
    position: str
    order: float
    depth: int
    key: str | None  # the primary key that matched (None: constant)
    secondary: list[str]  # secondary keys that matched
    recursion: int  # 0: matched the chat; n: matched activated lore of round n-1
    probability: float

    def record(self) -> dict[str, Any]:
        """What the stored prompt keeps of this entry."""
        return {
            "lorebook_id": self.lorebook_id,
            "entry_id": self.entry_id,
            "name": self.entry.get("name") or self.entry.get("comment") or "",
            "matched_key": self.key,
            "constant": self.key is None,
            "matched_secondary": self.secondary,
            "recursion": self.recursion,
            "position": self.position,
            "order": self.order,
            **({"depth": self.depth} if self.position == "at_depth" else {}),
            "probability": self.probability,
            "content": self.content,
        }


def _rolled(seed_text: str, probability: float) -> bool:
    if probability >= 100:
        return True
    if probability <= 0:
        return False
    digest = hashlib.sha256(seed_text.encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big")).random() * 100 < probability


def activate(
    books: Sequence[tuple[str, dict[str, Any]]],
    recent_texts: Sequence[str],
    *,
    seed: str = "",
    macro: Callable[[str], str] = lambda s: s,
    max_recursion: int = MAX_RECURSION,
) -> list[Activated]:
    """The entries of ``books`` (``(lorebook_id, book)``) that this turn activates, ordered for
    insertion (lowest order first). ``recent_texts``: the chat, oldest first; ``macro`` expands
    macros in keys and content; ``seed`` makes probability rolls reproducible."""
    candidates: list[tuple[str, dict[str, Any], str, int, dict[str, Any]]] = []
    budget_chars: int | None = None
    for lid, book in books:
        depth = book.get("scan_depth")
        depth = int(depth) if isinstance(depth, int | float) and depth > 0 else DEFAULT_SCAN_DEPTH
        budget = book.get("token_budget")
        if isinstance(budget, int | float) and budget > 0:
            b = int(budget) * CHARS_PER_TOKEN
            budget_chars = b if budget_chars is None else min(budget_chars, b)
        rec = book.get("recursive_scanning")
        for i, e in enumerate(book.get("entries") or []):
            if not isinstance(e, dict) or e.get("enabled", True) is False or e.get("disable") is True:
                continue
            candidates.append((lid, e, entry_id(e, i), depth, {"recursive": rec is not False}))

    activated: dict[tuple[str, str], Activated] = {}
    scan_by_depth: dict[int, str] = {}

    def chat_text(depth: int, entry: dict[str, Any]) -> str:
        d = _opt(entry, "scan_depth")
        d = int(d) if isinstance(d, int | float) and not isinstance(d, bool) and d >= 0 else depth
        if d not in scan_by_depth:
            scan_by_depth[d] = "\n".join(recent_texts[-d:]) if d > 0 else ""
        return scan_by_depth[d]

    recursion_text = ""
    for round_no in range(max_recursion + 1):
        new: list[Activated] = []
        for lid, e, eid, depth, opts in candidates:
            if (lid, eid) in activated:
                continue
            if round_no > 0 and (not opts["recursive"] or _opt(e, "exclude_recursion")):
                continue
            if round_no == 0 and _opt(e, "delay_until_recursion"):
                continue
            # a recursion round scans the chat plus the lore activated so far (SillyTavern's
            # recurse buffer), so secondary keys and NOT logic still see the chat
            text = chat_text(depth, e) if round_no == 0 else chat_text(depth, e) + "\n" + recursion_text
            cs = bool(_opt(e, "case_sensitive"))
            ww = bool(_opt(e, "match_whole_words"))
            rx = bool(e.get("use_regex"))
            hit_key: str | None = None
            constant = bool(e.get("constant")) and round_no == 0
            if not constant:
                for k in e.get("keys") or []:
                    if key_matches(macro(str(k)), text, case_sensitive=cs, whole_words=ww, use_regex=rx):
                        hit_key = str(k)
                        break
                if hit_key is None:
                    continue
            secondary: list[str] = []
            sec_keys = [str(k) for k in (e.get("secondary_keys") or []) if str(k).strip()]
            if not constant and e.get("selective") and sec_keys:
                hits = [k for k in sec_keys
                        if key_matches(macro(k), text, case_sensitive=cs, whole_words=ww, use_regex=rx)]
                logic = entry_logic(e)
                ok = {
                    "and_any": bool(hits),
                    "and_all": len(hits) == len(sec_keys),
                    "not_any": not hits,
                    "not_all": len(hits) < len(sec_keys),
                }[logic]
                if not ok:
                    continue
                secondary = hits
            prob = entry_probability(e)
            if not _rolled(f"{seed}|{lid}|{eid}", prob):
                continue
            order = e.get("insertion_order")
            order = float(order) if isinstance(order, int | float) and not isinstance(order, bool) else 100.0
            d = _opt(e, "depth")
            new.append(Activated(
                lorebook_id=lid, entry=e, entry_id=eid, content=macro(str(e.get("content") or "")),
                position=entry_position(e), order=order,
                depth=int(d) if isinstance(d, int | float) and not isinstance(d, bool) and d >= 0 else 4,
                key=hit_key, secondary=secondary, recursion=round_no, probability=prob,
            ))
        if not new:
            break
        for a in new:
            activated[(a.lorebook_id, a.entry_id)] = a
        added = "\n".join(a.content for a in new if not _opt(a.entry, "prevent_recursion"))
        if not added:
            break
        recursion_text = f"{recursion_text}\n{added}" if recursion_text else added

    # the budget serves constant entries, then the highest order first; overflow stops it
    ranked = sorted(activated.values(), key=lambda a: (a.key is not None, -a.order))
    kept: list[Activated] = []
    used = 0
    for a in ranked:
        if budget_chars is not None and used + len(a.content) > budget_chars:
            break
        used += len(a.content)
        kept.append(a)
    kept.sort(key=lambda a: a.order)
    return kept
