"""emojax.runtime: the host-allocator setting, the source commit; bench's interleaved timing."""
import os
import subprocess
import sys

import pytest

from emojax import runtime
from emojax.bench import time_interleaved


def test_keep_freed_memory_takes_effect_on_glibc_and_is_idempotent():
    state = runtime.keep_freed_memory()
    assert state in ("kept", "system")
    if sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION"):
        assert state == "kept"
    assert runtime.keep_freed_memory() == state == runtime.allocator_state()


def test_allocator_opt_out():
    code = "from emojax import runtime; print(runtime.keep_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "EMOJAX_MALLOC": "system"})
    assert out.stdout.strip() == "system"


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
