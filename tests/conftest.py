import os

# Tests run on the CPU with a fixed thread budget; never grab an accelerator by accident.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
