"""Route modules: each exposes ``routes`` (a list of Starlette routes, usually made with
``endpoints.endpoint``) and is listed in ``registry.ROUTE_MODULES`` (nothing is discovered).
Start-up work goes in ``registry.STARTUP``. Modules whose name starts with ``_`` are helpers.
"""
