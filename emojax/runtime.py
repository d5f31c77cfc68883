"""Process-wide JAX settings the CLI applies: the persistent compilation cache, device facts."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$EMOJAX_CACHE`` or ``$XDG_CACHE_HOME/emojax`` (default ``~/.cache/emojax``)."""
    root = os.environ.get("EMOJAX_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "emojax"
    return Path(root)


def enable_compilation_cache() -> Path | None:
    """Persist compiled XLA programs across runs (compile once per shape, not once per process).

    Set ``EMOJAX_CACHE=off`` to disable. Returns the directory in use, or None.
    """
    if os.environ.get("EMOJAX_CACHE", "").lower() == "off":
        return None
    import jax
    path = cache_dir() / "jax"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return path


_COMPILE = {"seconds": 0.0, "count": 0}
_LISTENING = False


def track_compile_time() -> None:
    """Sum XLA backend compile durations (jax.monitoring events) for `compile_seconds`."""
    global _LISTENING
    if _LISTENING:
        return
    import jax

    def listener(event: str, duration: float, **kw):
        if event.endswith("backend_compile_duration"):
            _COMPILE["seconds"] += duration
            _COMPILE["count"] += 1
    jax.monitoring.register_event_duration_secs_listener(listener)
    _LISTENING = True


def compile_seconds() -> dict:
    """{"seconds", "count"} of backend compiles seen since `track_compile_time` (this process)."""
    return {"seconds": round(_COMPILE["seconds"], 2), "count": _COMPILE["count"]}
