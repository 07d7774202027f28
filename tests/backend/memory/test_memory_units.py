"""Embedder, vector store and extraction rules, without a server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from phantom_cli.backend.db import connect, migrate
from phantom_cli.backend.memory.embedder import HashingEmbedder, default_embedder
from phantom_cli.backend.memory.extraction import extract_rules, facts_from_llm, make_fact
from phantom_cli.backend.memory.store import VectorStore

MEMORIES = [
    "The user lives in Lisbon.",
    "The user's name is Sam.",
    "The user works as a nurse.",
    "The user likes hiking.",
    "The user's sister is Ana.",
    "The user has a dog named Rex.",
]


def test_embedder_is_deterministic_normalised_float32() -> None:
    e = HashingEmbedder(384)
    a = e.embed(["The user lives in Lisbon."])
    b = HashingEmbedder(384).embed(["The user lives in Lisbon."])
    assert a.dtype == np.float32 and a.shape == (1, 384)
    assert np.array_equal(a, b)
    assert abs(float(np.linalg.norm(a[0])) - 1.0) < 1e-5
    assert not np.any(e.embed([""]))  # nothing to say -> zero vector


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Do you remember where I live?", "The user lives in Lisbon."),
        ("what's my name again?", "The user's name is Sam."),
        ("I went hiking again yesterday", "The user likes hiking."),
        ("My dog is sick", "The user has a dog named Rex."),
        ("How is my sister doing?", "The user's sister is Ana."),
    ],
)
def test_relevant_memory_ranks_first(query: str, expected: str) -> None:
    e = default_embedder()
    scores = e.embed(MEMORIES) @ e.embed_one(query)
    assert MEMORIES[int(np.argmax(scores))] == expected
    assert float(scores.max()) >= 0.2


@pytest.fixture
def conn(tmp_path: Path):  # type: ignore[no-untyped-def]
    import phantom_cli.backend.memory.store  # noqa: F401  (registers the migration)
    import phantom_cli.backend.schema  # noqa: F401

    c = connect(tmp_path / "t.db")
    migrate(c)
    yield c
    c.close()


def _add(store: VectorStore, conn, user: str, chat: str, text_slot: tuple[str, str, str]) -> str:  # type: ignore[no-untyped-def]
    e = default_embedder()
    slot, key, value = text_slot
    f = make_fact(slot, key, value)
    assert f is not None
    return store.apply_fact(conn, user, chat, slot=f.slot, key=f.key, value=f.value, text=f.text,
                            vector=e.embed_one(f.text), embedder=e.name)


def test_store_search_floor_topk_and_isolation(conn) -> None:  # type: ignore[no-untyped-def]
    s, e = VectorStore(), default_embedder()
    for fact in [("location", "", "Lisbon"), ("name", "", "Sam"), ("job", "", "nurse")]:
        assert _add(s, conn, "u1", "c1", fact) == "added"
    q = e.embed_one("where do I live?")
    hits = s.search(conn, "u1", "c1", q, e.name)
    assert [h.text for h in hits] == ["The user lives in Lisbon."]
    # an unrelated question finds nothing (relevance floor)
    assert s.search(conn, "u1", "c1", e.embed_one("Explain black holes and the weather on Mars"), e.name) == []
    # never across users or chat_ids
    assert s.search(conn, "u2", "c1", q, e.name) == []
    assert s.search(conn, "u1", "c2", q, e.name) == []
    # k caps the count
    assert len(s.search(conn, "u1", "c1", q, e.name, k=1, floor=-1.0)) == 1


def test_duplicates_merge_and_changed_facts_keep_history(conn) -> None:  # type: ignore[no-untyped-def]
    s, e = VectorStore(), default_embedder()
    assert _add(s, conn, "u1", "c1", ("location", "", "Lisbon")) == "added"
    assert _add(s, conn, "u1", "c1", ("location", "", "lisbon")) == "duplicate"
    e_before = s.search(conn, "u1", "c1", e.embed_one("where do I live"), e.name)
    assert e_before[0].text == "The user lives in Lisbon."
    assert _add(s, conn, "u1", "c1", ("location", "", "Porto")) == "updated"
    hits = s.search(conn, "u1", "c1", e.embed_one("where do I live"), e.name)
    assert [h.text for h in hits] == ["The user lives in Porto."]  # the cache was invalidated
    history = s.memories(conn, "u1", "c1", include_history=True)
    old = next(r for r in history if r["value"] == "Lisbon")
    new = next(r for r in history if r["value"] == "Porto")
    assert old["active"] == 0 and old["superseded_by"] == new["id"]
    # a like that becomes a dislike replaces it
    assert _add(s, conn, "u1", "c1", ("likes", "", "mushrooms")) == "added"
    assert _add(s, conn, "u1", "c1", ("dislikes", "", "mushrooms")) == "updated"
    profile = s.rebuild_profile(conn, "u1", "c1")
    assert profile == {"location": "Porto", "dislikes": ["mushrooms"]}
    assert s.profile(conn, "u1", "c1") == profile
    assert s.profile(conn, "u1", "other") is None


def test_near_identical_embedding_is_merged(conn) -> None:  # type: ignore[no-untyped-def]
    s, e = VectorStore(), default_embedder()
    assert _add(s, conn, "u1", "c1", ("facts", "favorite color", "green")) == "added"
    text = "The user's favorite color is green."
    out = s.apply_fact(conn, "u1", "c1", slot="facts", key="favourite colour", value="green!",
                       text=text, vector=e.embed_one(text), embedder=e.name)
    assert out == "duplicate"
    assert s.count(conn, "u1", "c1") == 1


def test_unknown_slot_is_rejected(conn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="slot"):
        VectorStore().apply_fact(conn, "u", "c", slot="mood", key="", value="x", text="x",
                                 vector=np.zeros(384, np.float32), embedder="hash-384-v1")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Hi! My name is Sam and I live in Lisbon.",
         [("name", "Sam"), ("location", "Lisbon")]),
        ("I work as a nurse at the hospital, it's exhausting.", [("job", "nurse")]),
        ("I love hiking and I hate mushrooms.", [("likes", "hiking"), ("dislikes", "mushrooms")]),
        ("My sister is Ana. I have a dog named Rex.", [("relationships", "Ana"), ("pets", "Rex")]),
        ("I'm 31 years old", [("age", "31")]),
        ("I'm from Porto originally", [("hometown", "Porto")]),
        ("I'm a software engineer", [("job", "software engineer")]),
        ("my cat's name is Miso", [("pets", "Miso")]),
        ("Call me Sammy", [("name", "Sammy")]),
        ("My favourite colour is green", [("facts", "green")]),
        ("I just moved to Berlin", [("location", "Berlin")]),
    ],
)
def test_rule_extraction(message: str, expected: list[tuple[str, str]]) -> None:
    assert [(f.slot, f.value) for f in extract_rules([message])] == expected


@pytest.mark.parametrize(
    "message",
    ["I'm so tired today", "I love you", "my day is going badly", "Tell me about black holes",
     "I like that you remember things", "what's your name?"],
)
def test_rule_extraction_ignores_passing_remarks(message: str) -> None:
    assert extract_rules([message]) == []


def test_fact_texts_are_third_person() -> None:
    facts = extract_rules(["My name is Sam. I live in Lisbon. I have a dog named Rex."])
    assert [f.text for f in facts] == [
        "The user's name is Sam.", "The user lives in Lisbon.", "The user has a dog named Rex.",
    ]


def test_llm_facts_are_validated() -> None:
    data = {"facts": [
        {"slot": "location", "key": "", "value": "Lisbon", "text": "The user lives in Lisbon"},
        {"slot": "mood", "key": "", "value": "sad", "text": "The user is sad."},  # not a slot
        {"slot": "likes", "key": "tea", "value": "", "text": "The user likes tea."},  # no value
        "junk",
    ]}
    facts = facts_from_llm(data)
    assert [(f.slot, f.value, f.text) for f in facts] == [("location", "Lisbon", "The user lives in Lisbon.")]
    assert facts_from_llm(None) == [] and facts_from_llm({"facts": "x"}) == []


def test_cache_updated_in_place_matches_a_fresh_load(conn) -> None:  # type: ignore[no-untyped-def]
    """Writes update the warm cached matrix; it must agree with a cold load from the database."""
    import random

    warm, e = VectorStore(), default_embedder()
    rng = random.Random(5)
    cities = ["Lisbon", "Porto", "Oslo", "Rome", "Lima"]
    things = ["tea", "jazz", "chess", "hiking", "sushi", "opera"]
    queries = ["where do I live", "what do I like", "do I enjoy jazz", "tell me about my sister"]
    warm.search(conn, "u", "c", e.embed_one("warm up"), e.name)  # nothing yet
    for step in range(60):
        choice = rng.random()
        if choice < 0.3:
            fact = ("location", "", rng.choice(cities))
        elif choice < 0.6:
            fact = (rng.choice(["likes", "dislikes"]), "", rng.choice(things))
        else:
            fact = ("relationships", rng.choice(["sister", "brother"]), rng.choice(["Ana", "Ben", "Cy"]))
        _add(warm, conn, "u", "c", fact)
        if step % 7 == 0:
            for q in queries:
                qv = e.embed_one(q)
                hot = warm.search(conn, "u", "c", qv, e.name, floor=-1.0, k=50)
                cold = VectorStore().search(conn, "u", "c", qv, e.name, floor=-1.0, k=50)
                assert sorted((h.id, round(h.score, 5)) for h in hot) == sorted((h.id, round(h.score, 5)) for h in cold)
    assert warm.count(conn, "u", "c") == len(warm.search(conn, "u", "c", e.embed_one("x y z"), e.name, floor=-9, k=99))


def test_dense_queries_use_the_full_matrix(conn) -> None:  # type: ignore[no-untyped-def]
    s = VectorStore()
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((20, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    s.add_many(conn, "u", "d", [("facts", f"k{i}", f"v{i}", f"The user's k{i} is v{i}.") for i in range(20)],
               vecs, "engine:test")
    q = vecs[3] + 0.01
    hits = s.search(conn, "u", "d", q, "engine:test", k=3, floor=0.0)
    assert hits[0].text == "The user's k3 is v3."
    assert abs(hits[0].score - float(vecs[3] @ q)) < 1e-5
    assert s.search(conn, "u", "d", q, "hash-384-v2") == []  # other embedders' vectors are separate


def test_warm_in_a_thread_never_caches_a_stale_snapshot(conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s, e = VectorStore(), default_embedder()
    _add(s, conn, "u", "w", ("location", "", "Lisbon"))
    s.invalidate("u", "w")
    db_path = str(tmp_path / "t.db")
    original = VectorStore._load

    def load_with_a_write_meanwhile(c, user_id, chat_id, embedder):  # type: ignore[no-untyped-def]
        entry = original(c, user_id, chat_id, embedder)
        s._load = original  # type: ignore[method-assign]
        _add(s, conn, "u", "w", ("pets", "cat", "Miso"))  # lands while the snapshot is built
        s.invalidate("u", "w")  # (the write itself cached a fresh matrix; start from cold)
        return entry

    s._load = load_with_a_write_meanwhile  # type: ignore[method-assign]
    s.warm(db_path, "u", "w", e.name)
    assert not s.is_cached("u", "w", e.name)  # the stale snapshot was dropped
    hits = s.search(conn, "u", "w", e.embed_one("how is my cat"), e.name)
    assert [h.text for h in hits] == ["The user has a cat named Miso."]
    s.warm(db_path, "u", "w", e.name)  # already cached: nothing to do
    assert s.is_cached("u", "w", e.name)


@pytest.mark.parametrize(
    "message",
    [
        "Remind me what drink I like and when my presentation is",
        "Remind me what drink I like and when my presentation is?",
        "Do you remember what I love?",
        "So I like tea?",
        "I like and",
        "I like the and",
        "I forgot what I like",
        "my dog is in the garden",
        "My meeting is at work",
    ],
)
def test_questions_and_stop_words_are_never_facts(message: str) -> None:
    assert extract_rules([message]) == []


@pytest.mark.parametrize(
    ("message", "key", "text"),
    [
        ("My presentation is on Friday", "presentation", "The user's presentation is on Friday."),
        ("my exam's at 9am tomorrow", "exam", "The user's exam is at 9am tomorrow."),
        ("My birthday is on March 3rd.", "birthday", "The user's birthday is on March 3rd."),
        ("My flight is in two weeks and I'm nervous", "flight", "The user's flight is in two weeks."),
    ],
)
def test_dated_events_are_extracted(message: str, key: str, text: str) -> None:
    assert [(f.slot, f.key, f.text) for f in extract_rules([message])] == [("facts", key, text)]


def test_a_statement_before_a_question_is_kept() -> None:
    assert [f.text for f in extract_rules(["My name is Sam, what's yours?"])] == ["The user's name is Sam."]
    assert [f.text for f in extract_rules(["I live in Lisbon, do you?"])] == ["The user lives in Lisbon."]


def test_stop_word_values_are_refused_from_any_extractor() -> None:
    assert make_fact("likes", "and", "and") is None
    assert make_fact("facts", "thing", "the") is None
    assert make_fact("pets", "dog", "yes") is not None


@pytest.mark.parametrize(
    ("message", "key", "text"),
    [
        ("I don't like coffee at all.", "coffee", "The user dislikes coffee."),
        ("I dont like jazz anymore", "jazz", "The user dislikes jazz."),
        ("I love hiking so much", "hiking", "The user likes hiking."),
        ("I like tea a lot", "tea", "The user likes tea."),
        ("I hate mushrooms, honestly", "mushrooms", "The user dislikes mushrooms."),
        ("I love my cat very much", "their cat", "The user likes their cat."),
    ],
)
def test_trailing_intensifiers_are_not_part_of_a_fact(message: str, key: str, text: str) -> None:
    """It stored "The user dislikes coffee at all." (key pref:coffee at all)."""
    assert [(f.key, f.text) for f in extract_rules([message])] == [(key, text)]
