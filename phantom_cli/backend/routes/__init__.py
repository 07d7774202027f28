"""Route modules: every module here is imported by ``app.create_app`` and must expose ``routes``.

Optional: ``async def startup(app)`` and ``async def shutdown(app)``.
Modules whose name starts with ``_`` are skipped (helpers).
"""
