import os

# Tests run on the CPU with a fixed thread budget; never grab an accelerator by accident.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("EMOJAX_CACHE", "off")   # tests measure cold compiles and leave ~/.cache alone
os.environ.setdefault("EMOJAX_WORKERS", "1")   # one process unless a test asks for workers

import jax  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


import pytest  # noqa: E402


@pytest.fixture
def x64():
    """Double precision for the duration of one test (finite-difference and brute-force checks)."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)
