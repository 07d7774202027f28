"""``python -m phantom_cli.backend`` — the server process (started by runtime.ensure_server)."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m phantom_cli.backend")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--background", action="store_true", help="started by a phantom command")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from .server import serve
    from .settings import ServerSettings

    try:
        settings = ServerSettings.from_env(host=args.host, port=args.port)
    except ValueError as exc:
        print(f"phantom backend: {exc}", file=sys.stderr)
        return 2
    serve(settings, register=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
