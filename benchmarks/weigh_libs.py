"""Hand-written code vs a library, measured (issue 14, "Also weigh"). Rerunnable:

    .venv/bin/python benchmarks/weigh_libs.py            # needs httpx-sse, sse-starlette installed

1. SSE client: ``phantom_cli.client._sse.SSEParser`` vs ``httpx_sse.EventSource``:
   import cost on top of httpx, parse time of a 20 000-event stream in 61-byte chunks, and
   behaviour on a stream cut mid-event, a UTF-8 character and a CRLF split across chunks.
2. SSE server: ``endpoints.sse_response`` vs ``sse_starlette.EventSourceResponse``: import cost
   on top of starlette, time to serve 20 000 events in process (ASGI), bytes on the wire.
3. PNG text chunks: ``cards.read_png_text`` / ``write_png_text`` vs Pillow (``Image.open().text``,
   ``PngInfo`` + ``save``): import cost, time on a card with a 2 MB text chunk, whether the
   image data survives byte for byte, and whether a large chunk is read at all.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import statistics
import subprocess
import sys
import time


def import_ms(stmt: str, base: str, n: int = 9) -> float:
    """Median extra wall time of ``import stmt`` in a fresh process on top of ``base``."""

    def run(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return (time.perf_counter() - t0) * 1000

    with_ = statistics.median(run(f"{base}; {stmt}") for _ in range(n))
    without = statistics.median(run(base) for _ in range(n))
    return with_ - without


def best(fn, n: int = 5) -> float:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return min(out)


# ------------------------------------------------------------------ 1. SSE client


def _events(n: int) -> bytes:
    return b"".join(
        b"event: delta\ndata: " + json.dumps({"text": f"w\u00e9rd {i} "}).encode() + b"\n\n"
        for i in range(n)
    )


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def ours_parse(chunks: list[bytes]) -> list[tuple[str, str]]:
    from phantom_cli.client._sse import SSEParser

    p = SSEParser()
    out = [(e.event, e.data) for c in chunks for e in p.feed(c)]
    out += [(e.event, e.data) for e in p.close()]
    return out


def httpx_sse_parse(chunks: list[bytes]) -> list[tuple[str, str]]:
    import httpx
    from httpx_sse import EventSource

    class S(httpx.SyncByteStream):
        def __iter__(self):
            yield from chunks

    r = httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=S())
    return [(e.event, e.data) for e in EventSource(r).iter_sse()]


def sse_client() -> dict:
    data = _events(20_000)
    chunks = _chunks(data, 61)
    cases = {
        "cut mid-event (data line ended, no blank line)": [b"event: delta\ndata: {\"a\": 1}\n"],
        "cut mid-line": [b"event: delta\ndata: {\"a\": 1}\n\nevent: delta\ndata: {\"a"],
        "utf-8 split": [b"data: caf\xc3", b"\xa9\n\n"],
        "crlf split": [b"data: a\r", b"\n\r\ndata: b\r\n\r\n"],
        "cr only": [b"data: a\r\rdata: b\r\r"],
    }
    return {
        "import_ms_over_httpx": {
            "ours": round(import_ms("import phantom_cli.client._sse", "import httpx"), 1),
            "httpx_sse": round(import_ms("import httpx_sse", "import httpx"), 1),
        },
        "parse_20k_events_ms": {
            "ours": round(best(lambda: ours_parse(chunks)), 1),
            "httpx_sse": round(best(lambda: httpx_sse_parse(chunks)), 1),
        },
        "same_events": ours_parse(chunks) == httpx_sse_parse(chunks),
        "behaviour": {k: {"ours": ours_parse(v), "httpx_sse": _safe(httpx_sse_parse, v)} for k, v in cases.items()},
    }


def _safe(fn, arg):
    try:
        return fn(arg)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"


# ------------------------------------------------------------------ 2. SSE server


async def _serve(make_response, n: int) -> tuple[float, int]:
    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def gen():
        from phantom_cli.backend.endpoints import sse

        for i in range(n):
            yield sse("delta", {"text": f"w {i} "})

    async def gen_dicts():
        for i in range(n):
            yield {"event": "delta", "data": json.dumps({"text": f"w {i} "})}

    async def ep(request):
        return make_response(gen, gen_dicts)

    app = Starlette(routes=[Route("/s", ep)])
    t0 = time.perf_counter()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/s")
    return (time.perf_counter() - t0) * 1000, len(r.content)


def sse_server() -> dict:
    from phantom_cli.backend.endpoints import sse_response

    def ours(gen, _):
        return sse_response(gen())

    def lib(_, gen_dicts):
        from sse_starlette import EventSourceResponse

        return EventSourceResponse(gen_dicts(), ping=15)

    o = min(asyncio.run(_serve(ours, 20_000)) for _ in range(3))
    s = min(asyncio.run(_serve(lib, 20_000)) for _ in range(3))
    return {
        "import_ms_over_starlette": {
            "ours (endpoints: already loaded by every route)": 0.0,
            "sse_starlette": round(import_ms("import sse_starlette", "import starlette.responses, anyio"), 1),
        },
        "serve_20k_events_ms": {"ours": round(o[0], 1), "sse_starlette": round(s[0], 1)},
        "bytes": {"ours": o[1], "sse_starlette": s[1]},
    }


# ------------------------------------------------------------------ 3. PNG text chunks


def png_chunks() -> dict:
    from PIL import Image

    from phantom_cli.backend import cards

    buf = io.BytesIO()  # an uploaded card: saved by another tool, other compression settings
    Image.open(io.BytesIO(cards.default_card_image("Weigh", 400, 600))).save(buf, "PNG", compress_level=9)
    img = buf.getvalue()
    card = {"spec": "chara_card_v2", "data": {"name": "X", "description": "d" * 1_500_000}}
    text = base64.b64encode(json.dumps(card).encode()).decode()

    def ours_write() -> bytes:
        return cards.write_png_text(img, {"chara": text})

    def pil_write() -> bytes:
        from PIL import Image
        from PIL.PngImagePlugin import PngInfo

        im = Image.open(io.BytesIO(img))
        info = PngInfo()
        info.add_text("chara", text)
        buf = io.BytesIO()
        im.save(buf, format="PNG", pnginfo=info)
        return buf.getvalue()

    ours_png, pil_png = ours_write(), pil_write()

    def idat(png: bytes) -> bytes:
        return b"".join(c.data for c in cards.iter_png_chunks(png) if c.type == "IDAT")

    def pil_read(png: bytes):
        from PIL import Image

        return Image.open(io.BytesIO(png)).text.get("chara")

    return {
        "import_ms": {
            "ours (cards: stdlib)": round(import_ms("import phantom_cli.backend.cards", "import json"), 1),
            "PIL.PngImagePlugin": round(import_ms("import PIL.Image, PIL.PngImagePlugin", "import json"), 1),
        },
        "write_2MB_text_ms": {"ours": round(best(ours_write), 1), "pillow": round(best(pil_write), 1)},
        "read_2MB_text_ms": {
            "ours": round(best(lambda: cards.read_png_text(ours_png)), 1),
            "pillow": round(best(lambda: _safe(pil_read, ours_png)), 1),
        },
        "image_data_kept_byte_for_byte": {"ours": idat(ours_png) == idat(img), "pillow": idat(pil_png) == idat(img)},
        "reads_the_text_back": {
            "ours": cards.read_png_text(ours_png)["chara"][0] == text,
            "pillow": _safe(pil_read, ours_png) == text,
        },
    }


if __name__ == "__main__":
    print(json.dumps({"sse_client": sse_client(), "sse_server": sse_server(), "png": png_chunks()},
                     indent=1, ensure_ascii=False, default=str))
