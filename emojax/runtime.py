"""Process-wide settings the CLI applies: the persistent compilation cache, compile-time tracking,
and the host allocator's reuse of freed memory."""
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
    _CACHE["on"] = True
    return path


_CACHE = {"on": False}


def cache_enabled() -> bool:
    """Whether `enable_compilation_cache` turned the persistent cache on in this process (worker
    processes, `emojax.experiments.pool`, then turn it on too)."""
    return _CACHE["on"]


def cpu_devices(n: int) -> bool:
    """Split the host CPU into `n` XLA devices (``--xla_force_host_platform_device_count``), e.g. for
    the ``directions`` LSTM kernel (`emojax.nn.lstm.directions_layer`). Only before JAX's backend
    starts and only where JAX runs on the CPU; an XLA_FLAGS setting of the user's own wins.
    Returns whether the flag is in effect."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" in flags:
        return f"xla_force_host_platform_device_count={n}" in flags
    if os.environ.get("JAX_PLATFORMS", "cpu").split(",")[0] not in ("cpu", ""):
        return False
    import sys
    if "jax" in sys.modules:
        from jax._src import xla_bridge
        if getattr(xla_bridge, "backends_are_initialized", lambda: True)():
            return False
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()
    return True


def devices_for_kernel() -> None:
    """What the chosen LSTM kernel needs before JAX starts: two CPU devices for ``directions``."""
    if os.environ.get("EMOJAX_LSTM_KERNEL") == "directions":
        cpu_devices(2)


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


def add_compile_seconds(seconds: float, count: int) -> None:
    """Count compiles made elsewhere for this run (its worker processes) in `compile_seconds`."""
    _COMPILE["seconds"] += seconds
    _COMPILE["count"] += count


def compile_seconds() -> dict:
    """{"seconds", "count"} of backend compiles seen since `track_compile_time` (this process and
    the workers it reported, `add_compile_seconds`)."""
    return {"seconds": round(_COMPILE["seconds"], 2), "count": _COMPILE["count"]}


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
_ALLOCATOR = {"state": "system"}


def keep_freed_memory() -> str:
    """Make glibc's malloc reuse freed memory for large host buffers instead of unmapping it.

    XLA on the CPU allocates each execution's temporaries afresh. glibc serves a request of 32 MB
    or more with a new ``mmap`` and returns it on free, and XLA's worker threads allocate from
    per-thread arenas that are trimmed, so every train step pays a page fault per 4 KB page again:
    measured on a 2-core VM, one LSTM direction over T=500 (a 32 MB projection buffer) took 36 ms
    instead of 18 ms, and torch.nn.LSTM's train step at T=500 166 ms instead of 70 ms. With mmap
    off (``M_MMAP_MAX=0``), one arena (``M_ARENA_MAX=1``) and no trimming, large buffers come from
    the heap and are reused; the price is that the process keeps its peak heap instead of
    returning it to the OS. Applied by the `emojax` CLI (reproduce, analyze, bench);
    ``EMOJAX_MALLOC=system`` leaves the allocator alone. Does nothing where malloc is not glibc's.
    Returns what is in effect: "kept" or "system".
    """
    if _ALLOCATOR["state"] == "kept" or os.environ.get("EMOJAX_MALLOC", "").lower() == "system":
        return _ALLOCATOR["state"]
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):                   # not glibc (macOS, musl, Windows)
        return _ALLOCATOR["state"]
    if (mallopt(_M_MMAP_MAX, 0) == 1 and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
            and mallopt(_M_ARENA_MAX, 1) == 1):
        _ALLOCATOR["state"] = "kept"
    return _ALLOCATOR["state"]


def allocator_state() -> str:
    """"kept" once `keep_freed_memory` took effect in this process, else "system"."""
    return _ALLOCATOR["state"]


def source_commit() -> str | None:
    """The git commit of the emojax source in use (``+dirty`` with uncommitted changes to tracked
    files), or None outside emojax's own git checkout (e.g. an installed wheel)."""
    import subprocess
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root:   # e.g. a venv inside
            return None                                                   # another checkout
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None
