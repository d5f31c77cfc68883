"""emojax.runtime: the host-allocator setting, the source commit; bench's interleaved timing."""
import os
import subprocess
import sys

import pytest

from emojax import runtime
from emojax.bench import time_interleaved


def _allocator_states(env_value: str | None) -> list[str]:
    """keep_freed_memory() twice and allocator_state(), in a fresh process (mallopt is global)."""
    code = ("from emojax import runtime; print(runtime.keep_freed_memory(), "
            "runtime.keep_freed_memory(), runtime.allocator_state())")
    env = {k: v for k, v in os.environ.items() if k != "EMOJAX_MALLOC"}
    if env_value is not None:
        env["EMOJAX_MALLOC"] = env_value
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    return out.stdout.split()


def test_keep_freed_memory_takes_effect_on_glibc_and_is_idempotent():
    states = _allocator_states(None)
    glibc = sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))
    assert states == ["kept"] * 3 if glibc else states == ["system"] * 3


def test_allocator_opt_out():
    assert _allocator_states("system") == ["system"] * 3


def test_source_commit_names_the_checkout():
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=os.path.dirname(runtime.__file__)).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    assert runtime.source_commit().split("+")[0] == head


def test_interleaved_timing_calls_each_row_its_repeats():
    calls = {"a": 0, "b": 0}

    def counter(k):
        def f():
            calls[k] += 1
        return f
    out = time_interleaved({"a": counter("a"), "b": counter("b")}, {"a": 7, "b": 3}, rounds=5)
    assert calls == {"a": 7, "b": 3}
    assert set(out) == {"a", "b"} and all(r["min_ms"] <= r["median_ms"] <= r["max_ms"] for r in out.values())


def test_interleaved_timing_drops_a_row_that_fails_midway():
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] > 2:
            raise RuntimeError("peer broke")
    errors = {}
    out = time_interleaved({"ok": lambda: None, "flaky": flaky}, {"ok": 5, "flaky": 5}, errors=errors)
    assert set(out) == {"ok"} and isinstance(errors["flaky"], RuntimeError)
    with pytest.raises(RuntimeError):
        calls["n"] = 0
        time_interleaved({"flaky": flaky}, {"flaky": 5})
