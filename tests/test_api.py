"""The public API: the names a notebook imports, and `import emojax.*` staying light."""
import inspect
import subprocess
import sys

import pytest

import emojax.analysis
import emojax.models
import emojax.nn

HEAVY = ("sklearn", "scipy", "matplotlib")


def test_the_documented_names_import():
    from emojax.analysis import context_counts, sensitivity, sequential_jacobian  # noqa: F401
    from emojax.models import pooled, woellmer
    from emojax.nn import blstm, init_blstm, mean_pool  # noqa: F401

    for model in (woellmer, pooled):
        assert inspect.ismodule(model) and callable(model.init) and callable(model.apply)


@pytest.mark.parametrize("package", [emojax.nn, emojax.models, emojax.analysis],
                         ids=lambda p: p.__name__)
def test_all_lists_what_the_package_holds(package):
    assert package.__all__ and len(set(package.__all__)) == len(package.__all__)
    for name in package.__all__:
        assert hasattr(package, name), f"{package.__name__}.__all__ names {name!r}, which is missing"


def test_modules_keep_their_names():
    """Re-exports must not shadow a submodule: `from emojax.nn import lstm as L` is the module."""
    from emojax.analysis import context, jacobian
    from emojax.nn import lstm, pooling

    for mod, name in ((lstm, "emojax.nn.lstm"), (pooling, "emojax.nn.pooling"),
                      (context, "emojax.analysis.context"), (jacobian, "emojax.analysis.jacobian")):
        assert inspect.ismodule(mod) and mod.__name__ == name
    assert emojax.nn.blstm is lstm.blstm and emojax.nn.mean_pool is pooling.mean_pool
    assert emojax.analysis.sequential_jacobian is jacobian.sequential_jacobian


def test_importing_the_library_pulls_no_heavy_dependency():
    code = ("import sys, emojax.nn, emojax.models, emojax.analysis; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "", f"imported at import time: {res.stdout.strip()}"
