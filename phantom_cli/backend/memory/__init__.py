"""Companion memory: offline embedder, vector store over SQLite, extraction, profile.

- ``embedder``: the built-in feature-hashing embedder (or the engine's embeddings endpoint);
- ``store``: memories and profiles per (user, chat_id), cached NumPy search;
- ``extraction``: facts from the user's messages (rules, or an LLM with a JSON schema);
- ``service``: retrieval per turn, the cadence counter and the ``memory.extract`` job.
"""
