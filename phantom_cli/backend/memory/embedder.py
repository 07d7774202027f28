"""The built-in offline embedder: feature hashing, no model, no network.

Why hashing rather than a static model: the embedder must work on a fresh offline install with
nothing to download, and no wheel on PyPI that we could verify ships model2vec-format weights
inside the package (model2vec itself fetches them from a hub). Feature hashing is small, fast and
deterministic, and for memory retrieval — where the query and the stored fact usually share
words ("where do I live?" / "The user lives in Lisbon.") — it is a good fit.

Features of a text (after lower-casing, light stemming and dropping stop words):

- word unigrams (weight 1.0),
- word bigrams of neighbouring content words (weight 0.5),
- character 4-grams of each content word with boundary marks (total weight 0.5 per word),
- a concept feature for words that name the same kind of fact (job/works/nurse, live/city/moved,
  sister/mother, dog/pet…; weight 0.7), so "my job" finds "works as a nurse",

each hashed (CRC-32, stable across processes) to one of ``dim`` buckets with a hashed sign, then
the vector is L2-normalised (float32). Cosine similarity is then a dot product.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

DEFAULT_DIM = 384

STOP_WORDS = frozenset(
    """a an the and or but so if then than that this these those i me my mine myself you your
    yours we us our ours he him his she her hers it its they them their theirs to of in on at by
    for with from about as into over under up down out off is am are was were be been being do
    does did doing have has had having will would shall should can could may might must not no
    yes just really very too also what who whom which when where why how there here again still
    even ever some any all more most much many such own same other each few both only oh ah um hi
    hello hey ok okay well like get got go going know think tell told remember user please thanks
    thank im ive id ill dont didnt cant wont youre whats thats lets one something thing things""".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def stem(word: str) -> str:
    """A light suffix stripper: lives→live, loved→love, hiking→hik, cats→cat."""
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ied"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("ed"):
        return word[:-1] if word[-3] in "vcsu" else word[:-2]
    if len(word) > 4 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> list[str]:
    words = _TOKEN.findall(text.lower().replace("\u2019", "'"))
    out = []
    for w in words:
        if w.replace("'", "") in STOP_WORDS:
            continue
        s = stem(w)
        if s in STOP_WORDS or not s:
            continue
        out.append(s)
    return out


# Words that point at the same kind of fact ("my job" / "works as a nurse") share a concept
# feature, which bridges the commonest gaps between a question and a stored fact.
_CONCEPTS: dict[str, str] = {}
for _concept, _words in {
    "job": "job work worker career profession occupation employ employed employer office shift boss "
           "colleague coworker nurse doctor teacher engineer developer student",
    "home": "live home house flat apartment city town country move moved neighbourhood neighborhood "
            "address hometown grew",
    "name": "name nickname",
    "family": "family sister brother mother mom mum father dad parent sibling wife husband partner "
              "boyfriend girlfriend son daughter kid child children grandma grandpa aunt uncle cousin",
    "pet": "pet dog cat puppy kitten hamster rabbit bird fish",
    "hobby": "hobby hobbie favorite favourite enjoy fun pastime",
    "age": "age old birthday born",
}.items():
    for _w in _words.split():
        _CONCEPTS[_w] = _concept


@lru_cache(maxsize=65536)
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    h = zlib.crc32(feature.encode("utf-8"))
    return h % dim, (1.0 if (h >> 31) & 1 else -1.0)


class HashingEmbedder:
    """Word + bigram + character n-gram feature hashing into ``dim`` float32 dimensions."""

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        if dim < 16:
            raise ValueError("dim: must be at least 16")
        self.dim = dim
        self.name = f"hash-{dim}-v2"

    def features(self, text: str) -> dict[str, float]:
        words = content_words(text)
        feats: dict[str, float] = {}
        for w in words:
            feats["w:" + w] = feats.get("w:" + w, 0.0) + 1.0
            concept = _CONCEPTS.get(w)
            if concept:
                feats["k:" + concept] = feats.get("k:" + concept, 0.0) + 0.7
            padded = f"<{w}>"
            grams = [padded[i : i + 4] for i in range(max(1, len(padded) - 3))]
            share = 0.5 / len(grams)
            for g in grams:
                feats["c:" + g] = feats.get("c:" + g, 0.0) + share
        for a, b in zip(words, words[1:], strict=False):
            key = f"b:{a} {b}"
            feats[key] = feats.get(key, 0.0) + 0.5
        return feats

    def embed_one(self, text: str) -> Any:
        import numpy as np

        vec = np.zeros(self.dim, dtype=np.float32)
        for feat, weight in self.features(text).items():
            idx, sign = _bucket(feat, self.dim)
            vec[idx] += sign * weight
        norm = float(np.linalg.norm(vec))
        if norm > 0:
            vec /= norm
        return vec

    def embed(self, texts: Sequence[str]) -> Any:
        """An ``(n, dim)`` float32 array of L2-normalised vectors (zero rows for empty texts)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.embed_one(t) for t in texts])

    async def aembed(self, texts: Sequence[str]) -> Any:
        return self.embed(texts)


class EngineEmbedder:
    """Embeddings from the engine's ``/v1/embeddings`` (openai engine with an embedding model)."""

    def __init__(self, engine: Any, model: str) -> None:
        self.engine = engine
        self.name = f"engine:{model}"
        self.dim = 0  # known after the first call

    async def aembed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        rows = await self.engine.embed(list(texts))
        arr = np.asarray(rows, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] != len(texts):
            from ..engines import EngineUnavailable

            raise EngineUnavailable("embeddings: the provider returned the wrong number of vectors")
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        arr = (arr / np.where(norms == 0, 1, norms)).astype(np.float32)
        self.dim = arr.shape[1]
        return arr


_default: HashingEmbedder | None = None


def default_embedder() -> HashingEmbedder:
    global _default
    if _default is None:
        _default = HashingEmbedder()
    return _default


def embedder_for(settings: Any, engine: Any = None) -> Any:
    """The engine's embeddings when configured (``engine_embedding_model``), else the built-in."""
    from ..engines import setting

    model = setting(settings, "engine_embedding_model")
    if model and engine is not None and hasattr(engine, "embed"):
        return EngineEmbedder(engine, str(model))
    return default_embedder()
