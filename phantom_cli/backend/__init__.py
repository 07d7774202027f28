"""The embedded local backend: a Starlette app over SQLite, served by uvicorn.

Module level imports the standard library only (start-up rule): ``runtime`` is imported by the
CLI to find or start the server; everything heavy lives in ``app``, ``db``, ``routes``.
"""
