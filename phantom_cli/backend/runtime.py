"""Find, start and stop the background local server (stdlib only: imported by the CLI).

- ``runtime_dir()/server.json``: ``{pid, host, port, base_url, version, started_at}`` of the
  running server, written by the server once it listens, removed when it exits.
- ``runtime_dir()/server.lock``: ``fcntl.flock`` held while checking + starting, so two commands
  starting at once start one server.
- A runtime file whose pid is dead, or whose server does not answer ``/health``, is stale and
  replaced.
- ``ensure_server(options)`` spawns ``python -m phantom_cli.backend`` detached
  (``start_new_session``; stdout/stderr appended to ``state_dir()/server.log``) and waits for
  ``/health``. Engine settings travel in the child's environment (``PHANTOM_SERVER_*``), never
  on its command line (an API key would show in ``ps``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DEFAULT_IDLE_TIMEOUT = 1800.0
START_TIMEOUT = 30.0


class RuntimeErrorBackend(Exception):
    """The local server could not be started or reached; the message says why."""


# --------------------------------------------------------------------------- paths


def _dirs() -> tuple[Path, Path]:
    """(runtime_dir, state_dir) via phantom_cli.config.paths (stdlib only)."""
    from phantom_cli.config import paths

    return Path(paths.runtime_dir()), Path(paths.state_dir())


def runtime_file() -> Path:
    return _dirs()[0] / "server.json"


def lock_file() -> Path:
    return _dirs()[0] / "server.lock"


def log_file() -> Path:
    return _dirs()[1] / "server.log"


def _last_log_line(limit: int = 300) -> str:
    """The log's last non-blank line (why a server that exited during start-up stopped)."""
    try:
        with open(log_file(), "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4096))
            lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:limit] if lines else ""


# --------------------------------------------------------------------------- runtime file


def write_runtime(info: Mapping[str, Any], path: Path | None = None) -> Path:
    from phantom_cli.config.settings import atomic_write

    path = path or runtime_file()
    atomic_write(path, json.dumps(dict(info)).encode("utf-8"), mode=0o600)
    return path


def read_runtime(path: Path | None = None) -> dict[str, Any] | None:
    path = path or runtime_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int) or not data.get("base_url"):
        return None
    return data


def remove_runtime(pid: int | None = None, path: Path | None = None) -> None:
    """Remove the runtime file (only if it still names ``pid``, when given)."""
    path = path or runtime_file()
    if pid is not None:
        info = read_runtime(path)
        if info is not None and info.get("pid") != pid:
            return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as dead
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def health_ok(base_url: str, timeout: float = 1.0) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/health", timeout=timeout) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _ours_and_listening(info: Mapping[str, Any], timeout: float = 0.5) -> bool:
    """Cheap liveness: the pid runs our server module (Linux /proc) and its port accepts.

    Saves every command the HTTP health request (and urllib's import): about 40 ms.
    """
    import socket

    cmdline = Path(f"/proc/{info['pid']}/cmdline")
    if cmdline.exists():
        try:
            if b"phantom_cli" not in cmdline.read_bytes():
                return False  # the pid was reused by another program
        except OSError:
            return False
    try:
        with socket.create_connection((str(info["host"]), int(info["port"])), timeout=timeout):
            return True
    except (OSError, ValueError, KeyError):
        return False


def status(quick: bool = False) -> dict[str, Any] | None:
    """The running server's runtime info, or None (no file, dead pid, or not answering).

    ``quick``: check the process and its port instead of a full ``/health`` request (the hot
    path of every command; a wrong answer there only costs a connection error and a retry).
    """
    info = read_runtime()
    if info is None:
        return None
    if not pid_alive(info["pid"]):
        return None
    alive = _ours_and_listening(info) if quick else health_ok(info["base_url"])
    return info if alive else None


# --------------------------------------------------------------------------- lock


@contextlib.contextmanager
def start_lock(timeout: float = START_TIMEOUT + 10) -> Iterator[None]:
    import fcntl

    path = lock_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeErrorBackend(f"another phantom command holds {path} (timed out)") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


# --------------------------------------------------------------------------- start / stop

_OPTION_ENV = {
    "engine": "PHANTOM_SERVER_ENGINE",
    "engine_base_url": "PHANTOM_SERVER_ENGINE_BASE_URL",
    "engine_model": "PHANTOM_SERVER_ENGINE_MODEL",
    "engine_api_key": "PHANTOM_SERVER_ENGINE_API_KEY",
    "engine_api_key_env": "PHANTOM_SERVER_ENGINE_API_KEY_ENV",
    "llama_model_path": "PHANTOM_SERVER_LLAMA_MODEL_PATH",
    "idle_timeout": "PHANTOM_SERVER_IDLE_TIMEOUT",
    "faults": "PHANTOM_SERVER_FAULTS",
    "fault_seed": "PHANTOM_SERVER_FAULT_SEED",
    "memory_cadence": "PHANTOM_SERVER_MEMORY_CADENCE",
    "vector_store": "PHANTOM_SERVER_VECTOR_STORE",
    "seed": "PHANTOM_SERVER_SEED",
    "scripted_pace": "PHANTOM_SERVER_SCRIPTED_PACE",
    "moderation_policy": "PHANTOM_SERVER_MODERATION_POLICY",
    "engine_embedding_model": "PHANTOM_SERVER_ENGINE_EMBEDDING_MODEL",
}


FINGERPRINT_ENV = "PHANTOM_RUNTIME_FINGERPRINT"


def _server_env(options: Mapping[str, Any] | None) -> dict[str, str]:
    """The ``PHANTOM_SERVER_*`` variables that carry ``options`` to the server process."""
    opts = dict(options or {})
    opts.setdefault("idle_timeout", DEFAULT_IDLE_TIMEOUT)
    out: dict[str, str] = {}
    for key, value in opts.items():
        var = _OPTION_ENV.get(key)
        if var is None or value is None or value == "":
            continue
        out[var] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def options_fingerprint(options: Mapping[str, Any] | None) -> str:
    """A short digest of the settings a server was started with (no secret is stored raw)."""
    import hashlib

    blob = json.dumps(sorted(_server_env(options).items()))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# What the background server inherits from the command that starts it; nothing else (no
# PHANTOM_API_KEY / PHANTOM_KEY, no cloud tokens: /proc/PID/environ is readable for its lifetime).
CHILD_ENV_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "PHANTOM_HOME", "VIRTUAL_ENV", "PYTHONPATH", "SYSTEMROOT",
    # the network path of a cloud engine (not credentials of their own)
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR",
})  # fmt: skip
CHILD_ENV_PREFIXES = ("LC_", "XDG_", "PHANTOM_TEST_")


def _inherited(name: str) -> bool:
    return name in CHILD_ENV_NAMES or name.startswith(CHILD_ENV_PREFIXES)


def child_env(options: Mapping[str, Any] | None) -> dict[str, str]:
    """The spawned server's whole environment: the allow-listed basics (``CHILD_ENV_NAMES``,
    ``LC_*``, ``XDG_*``), ``PHANTOM_SERVER_*`` built from ``options``, and the variable named
    by ``engine_api_key_env`` when set — the engine's key, which the server reads itself."""
    env = {k: v for k, v in os.environ.items() if _inherited(k)}
    key_env = (options or {}).get("engine_api_key_env")
    if key_env and str(key_env) in os.environ:
        env[str(key_env)] = os.environ[str(key_env)]
    env.update(_server_env(options))
    env[FINGERPRINT_ENV] = options_fingerprint(options)
    return env


def spawn(options: Mapping[str, Any] | None = None) -> subprocess.Popen[bytes]:
    """Start ``python -m phantom_cli.backend`` detached; it writes the runtime file itself."""
    log = log_file()
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "phantom_cli.backend", "--background", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            env=child_env(options),
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(fd)


def _current(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """``info`` if it is a server of this phantom version, else None."""
    from phantom_cli import __version__

    if info is None or info.get("version") != __version__:
        return None
    return info


def ensure_server(options: Mapping[str, Any] | None = None, timeout: float = START_TIMEOUT) -> dict[str, Any]:
    """The running server's info, starting one if needed (one server even under concurrency).

    ``options``: engine, engine_base_url, engine_model, engine_api_key(_env), llama_model_path,
    idle_timeout, faults, memory_cadence, vector_store, seed, … — the profile's server settings.
    A background server started with other settings (the profile changed, or another profile
    is active) is restarted so they apply; a foreground ``phantom serve`` is never replaced.
    """
    wanted = options_fingerprint(options)

    def fits(info: dict[str, Any]) -> bool:
        return info.get("fingerprint") in (None, wanted)

    info = _current(status(quick=True))
    if info is not None and fits(info):
        return info
    with start_lock():
        info = status()  # someone else may have started it while we waited for the lock
        if info is not None and _current(info) is None:
            stop_server()  # a server of another phantom version (an upgrade): replace it
            info = None
        elif info is not None and not fits(info):
            print(
                "phantom: restarting the local server to apply changed settings",
                file=sys.stderr,
            )
            stop_server()
            info = None
        if info is not None:
            return info
        stale = read_runtime()
        if stale is not None:
            remove_runtime(stale["pid"])
        proc = spawn(options)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                why = _last_log_line()
                raise RuntimeErrorBackend(
                    f"the local server exited during start-up (code {code})"
                    + (f": {why}" if why else "")
                    + f"; see {log_file()}"
                )
            info = read_runtime()
            if info is not None and info["pid"] == proc.pid and health_ok(info["base_url"]):
                return info
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        raise RuntimeErrorBackend(f"the local server did not answer within {timeout:.0f} s; see {log_file()}")


def stop_server(timeout: float = 10.0) -> dict[str, Any] | None:
    """Stop the running server (SIGTERM, then SIGKILL). Returns its info, or None if none ran."""
    info = read_runtime()
    if info is None:
        return None
    pid = int(info["pid"])
    if not pid_alive(pid):
        remove_runtime(pid)
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    remove_runtime(pid)
    return info


def runtime_info(host: str, port: int, pid: int | None = None) -> dict[str, Any]:
    from datetime import UTC, datetime

    from phantom_cli import __version__

    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    return {
        "pid": pid or os.getpid(),
        "host": host,
        "port": port,
        "base_url": f"http://{shown}:{port}",
        "version": __version__,
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        # set by ensure_server for a background server; None for a foreground `phantom serve`
        "fingerprint": os.environ.get(FINGERPRINT_ENV),
    }
