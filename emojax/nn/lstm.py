"""LSTM and bidirectional LSTM as pure functions over a parameter pytree.

Inputs are ``xs (..., T, F)`` with a prefix ``mask (..., T)``: one sequence (no leading axes) or a
batch (any leading axes); outputs are ``(..., T, H)``. The cell, with gates ordered (i, f, g, o) as
in ``torch.nn.LSTM``::

    z = W_x x_t + W_h h_{t-1} + b                        # (4H,)
    i = σ(z_i + p_i ⊙ c_{t-1})   f = σ(z_f + p_f ⊙ c_{t-1})   g = tanh(z_g)
    c_t = f ⊙ c_{t-1} + i ⊙ g
    o = σ(z_o + p_o ⊙ c_t)       h_t = o ⊙ tanh(c_t)

The peephole terms ``p`` (Gers & Schmidhuber 2000; the RNNLIB/CURRENNT cells Wöllmer's group used,
Graves 2008 §4.1) are optional: parameters without a ``"peep"`` entry give the plain cell.

Speed (each choice measured on a 2-core CPU; see results/bench): the input projection
``W_x x_t + b`` of every step is one matmul outside the scan, and the scan runs time-major over
``(T, sequences, 4H)``. All four gates are one tanh over the whole 4H vector (σ(z) = (tanh(z/2)+1)/2).
The recurrence has a custom JVP (`_recurrence`): its tangent is a *linear* scan whose per-step
coefficients are emitted by the primal step itself, and whose weight tangents enter through one
matmul outside the scan. Reverse mode transposes that linear scan, so the gradient of ``W_h`` is one
(H, T·N) @ (T·N, 4H) matmul after the backward scan instead of T small per-step accumulations (what
autodiff of a plain scan does); forward mode (``jax.jacfwd``) uses the same rule.

Padding: masks are prefix masks (valid steps first, then padding). The state is zeroed at padded
steps (their input and forget gates are closed through the hoisted pre-activation: `_CLOSED`), so
padded outputs are zero; the backward direction scans in reverse over the padded array,
meets the padding first, and so starts each valid suffix from a zero state, exactly as if the
sequence had no padding (no per-sequence reversal, hence no gather/scatter in the gradient).
"""
from __future__ import annotations

import contextlib
import os
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Params = dict[str, Any]


# ----------------------------------------------------------------------------- initialisation
def init_lstm(key: jax.Array, in_dim: int, hidden: int, *, forget_bias: float = 1.0,
              peephole: bool = False, dtype=jnp.float32) -> Params:
    """One direction: ``w_x (F, 4H)``, ``w_h (H, 4H)``, ``b (4H,)`` and optionally ``peep (3, H)``.

    Weights ~ U(-1/sqrt(H), 1/sqrt(H)) as in torch.nn.LSTM; the forget-gate bias starts at
    ``forget_bias`` (it shapes how long the trained cell remembers, so it is a setting, not a constant).
    """
    k = 1.0 / np.sqrt(hidden)
    kx, kh, kb, kp = jax.random.split(key, 4)
    p = {
        "w_x": jax.random.uniform(kx, (in_dim, 4 * hidden), dtype, -k, k),
        "w_h": jax.random.uniform(kh, (hidden, 4 * hidden), dtype, -k, k),
        "b": jnp.zeros((4 * hidden,), dtype).at[hidden:2 * hidden].set(forget_bias),
    }
    if peephole:
        p["peep"] = jax.random.uniform(kp, (3, hidden), dtype, -k, k)
    return p


def init_blstm(key: jax.Array, in_dim: int, hidden: int, *, layers: int = 1, **kw) -> list[Params]:
    """A stack of bidirectional layers: ``[{"fwd": lstm, "bwd": lstm}, ...]``; layer l>0 sees 2H inputs."""
    out = []
    for layer, k in enumerate(jax.random.split(key, layers)):
        kf, kb = jax.random.split(k)
        d = in_dim if layer == 0 else 2 * hidden
        out.append({"fwd": init_lstm(kf, d, hidden, **kw), "bwd": init_lstm(kb, d, hidden, **kw)})
    return out


# ----------------------------------------------------------------------------- the cell
def lstm_cell(params: Params, carry: tuple[jax.Array, jax.Array], x: jax.Array):
    """The LSTM cell for one step: ``(h, c), x (..., F) -> (h, c)`` (the equations above, unfused)."""
    h, c = carry
    peep = params.get("peep")
    z = x @ params["w_x"] + h @ params["w_h"]
    zi, zf, zg, zo = jnp.split(z + params["b"].reshape((1,) * (z.ndim - 1) + (-1,)), 4, axis=-1)
    if peep is not None:
        peep = peep.reshape((3,) + (1,) * (c.ndim - 1) + (-1,))
        zi, zf = zi + peep[0] * c, zf + peep[1] * c
    c = jax.nn.sigmoid(zf) * c + jax.nn.sigmoid(zi) * jnp.tanh(zg)
    if peep is not None:
        zo = zo + peep[2] * c
    return jax.nn.sigmoid(zo) * jnp.tanh(c), c


def zero_state(params: Params, dtype=jnp.float32):
    hidden = params["w_h"].shape[0]
    return jnp.zeros((hidden,), dtype), jnp.zeros((hidden,), dtype)


# ----------------------------------------------------------------------------- the recurrence
# σ(z) = (tanh(z/2) + 1)/2, so all four gates are ONE tanh over the whole 4H vector: the recurrence
# runs on y = s ⊙ z (s = 1/2 for i, f, o and 1 for g), and a = s ⊙ tanh(y) + b gives (i, f, g, o).
# On a CPU that is ~2× faster per step than four sliced activations. s is folded into the weights
# (W_x, b, W_h; p/2 for peepholes) by `lstm`, never applied to the (T, N, 4H) activations.
# Shapes inside: ys (T, N, 4H) hoisted, scaled pre-activations of N sequences; ws (H, 4H);
# ph (3, H) halved peepholes or None; states (N, H).
def _gate_scales(hidden: int, dtype):
    """(s, b) over 4H: σ-gates (i, f, o) are tanh(z/2)/2 + 1/2, g is tanh(z)."""
    half, one = jnp.full((hidden,), 0.5, dtype), jnp.ones((hidden,), dtype)
    zero = jnp.zeros((hidden,), dtype)
    return jnp.concatenate([half, half, one, half]), jnp.concatenate([half, half, zero, half])


def _primal_scan(ws, ph, ys, reverse, unroll, residuals):
    """hs (T, N, H); with ``residuals`` also what the tangent needs, computed in the same step:
    c (T, N, H) and the tangent coefficients k (T, N, 4H), fe, be (T, N, H) (see `_recurrence_jvp`)."""
    N, H = ys.shape[1], ws.shape[0]
    s, b = (v[None] for v in _gate_scales(H, ys.dtype))          # (1, 4H) rows for (N, 4H)

    def step(carry, y):
        h, c_prev = carry
        y = y + h @ ws
        if ph is None:
            i, f, g, o = jnp.split(jnp.tanh(y) * s + b, 4, axis=-1)
            c = f * c_prev + i * g
        else:                                         # i, f see c_{t-1}; o sees c_t
            pc = jnp.concatenate([ph[:1] * c_prev, ph[1:2] * c_prev, jnp.zeros_like(c_prev)], -1)
            i, f, g = jnp.split(jnp.tanh(y[:, :3 * H] + pc) * s[:, :3 * H] + b[:, :3 * H], 3, -1)
            c = f * c_prev + i * g
            o = jnp.tanh(y[:, 3 * H:] + ph[2:] * c) * 0.5 + 0.5
        tc = jnp.tanh(c)
        h = o * tc
        if not residuals:
            return (h, c), h
        # Coefficients of the linear tangent recurrence, with dy the tangent of y (see `_recurrence_jvp`):
        #   dc_t = Σ_{i,f,g} k ⊙ dy + fe ⊙ dc_prev;  dh_t = k_o ⊙ dy_o + be ⊙ dc_t
        # (dσ(z)/dy = 2σ(1-σ) as y = z/2; dtanh(y)/dy = 1 - tanh² for g).
        ki, kf, ko = 2 * i * (1 - i) * g, 2 * f * (1 - f) * c_prev, 2 * o * (1 - o) * tc
        fe, be = f, o * (1 - tc * tc)
        if ph is not None:                        # peepholes feed dc_prev into i, f and dc_t into o
            fe = fe + ki * ph[:1] + kf * ph[1:2]
            be = be + ko * ph[2:]
        k = jnp.concatenate([ki, kf, i * (1 - g * g), ko], -1)
        return (h, c), (h, c, k, fe, be)

    zeros = jnp.zeros((N, H), ys.dtype)
    return jax.lax.scan(step, (zeros, zeros), ys, reverse=reverse, unroll=unroll)[1]


@partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def _recurrence(ws, ph, ys, reverse=False, unroll=1):
    """hs (T, N, H) from zero initial states; see the module docstring for the JVP."""
    return _primal_scan(ws, ph, ys, reverse, unroll, residuals=False)


@_recurrence.defjvp
def _recurrence_jvp(reverse, unroll, primals, tangents):
    ws, ph, ys = primals
    dws, dph, dys = tangents
    hs, cs, k, fe, be = _primal_scan(ws, ph, ys, reverse, unroll, residuals=True)

    def prev(a):                                  # the state each step started from (zeros first)
        z = jnp.zeros_like(a[:1])
        return jnp.concatenate([a[1:], z]) if reverse else jnp.concatenate([z, a[:-1]])

    # Tangent of y from everything but the recurrent state: one matmul for the weights' tangent.
    u = dys + prev(hs) @ dws
    if ph is not None:
        ui, uf, ug, uo = jnp.split(u, 4, axis=-1)
        dp, c_prev = dph[:, None, None], prev(cs)                # (3, 1, 1, H)
        u = jnp.concatenate([ui + dp[0] * c_prev, uf + dp[1] * c_prev, ug, uo + dp[2] * cs], -1)

    def tangent_step(carry, x):                   # linear in (dh, dc, u): reverse mode transposes it
        dh, dc = carry
        u_t, k_t, fe_t, be_t = x
        pi, pf, pg, po = jnp.split(k_t * (u_t + dh @ ws), 4, axis=-1)
        dc = pi + pf + pg + fe_t * dc
        dh = po + be_t * dc
        return (dh, dc), dh

    zeros = jnp.zeros_like(hs[0])
    _, dhs = jax.lax.scan(tangent_step, (zeros, zeros), (u, k, fe, be), reverse=reverse,
                          unroll=unroll)
    return hs, dhs


# ----------------------------------------------------------------------------- sequences
# Padded steps get this scaled pre-activation: i and f saturate to exactly 0 (tanh(y) = -1 in f32 for
# y below about -9; |h W_h| and the peephole terms are orders of magnitude below 1e4 as |h| <= 1), so
# c = 0·c_prev + 0·g = 0 and h = o·tanh(0) = 0, and the tangent coefficients k and fe are 0 there
# (dc = 0, so dh = be·dc = 0 too). The state is thus zero at every padded step, no per-step mask.
_CLOSED = -1e4


def lstm(params: Params, xs: jax.Array, mask: jax.Array, *, reverse: bool = False,
         unroll: int = 1) -> jax.Array:
    """One direction: ``xs (..., T, F), mask (..., T) -> hs (..., T, H)``, zeros where masked.

    With ``reverse=True`` each sequence's valid prefix is processed last-to-first (mask must be a
    prefix mask: valid steps first, then padding).
    """
    lead, (T, F) = xs.shape[:-2], xs.shape[-2:]
    H = params["w_h"].shape[0]
    xs = xs.astype(jnp.result_type(xs.dtype, params["w_x"].dtype))   # int/bool inputs: float
    s, _ = _gate_scales(H, xs.dtype)
    x = jnp.swapaxes(xs.reshape((-1, T, F)), 0, 1)                   # (T, N, F), time-major
    m = jnp.swapaxes(mask.reshape((-1, T)), 0, 1).astype(bool)[..., None]   # (T, N, 1)
    # Hoisted projection (T, N, 4H), padded steps closed by one extra input column "is padding"
    # whose weight row moves the pre-activation to `_CLOSED` (cheaper than a select over 4H).
    closed = jnp.concatenate([jnp.full((2 * H,), _CLOSED, xs.dtype), jnp.zeros((2 * H,), xs.dtype)])
    bs = params["b"] * s
    x1 = jnp.concatenate([jnp.where(m, x, 0.0), (~m).astype(x.dtype)], -1)      # (T, N, F + 1)
    w1 = jnp.concatenate([params["w_x"] * s[None], (closed - bs)[None]], 0)     # (F + 1, 4H)
    ys = x1 @ w1 + bs[None, None]
    ph = 0.5 * params["peep"] if "peep" in params else None
    hs = _recurrence(params["w_h"] * s[None], ph, ys, reverse, unroll)
    return jnp.swapaxes(hs, 0, 1).reshape(lead + (T, H))


def bilstm_layer(params: Params, xs: jax.Array, mask: jax.Array, *, unroll: int = 1) -> jax.Array:
    """Both directions of one layer: ``(..., T, F) -> (..., T, 2H)`` = [forward, backward].

    Two scans. (Stepping both directions in one scan with a batched (2, N, H) @ (2, H, 4H) dot was
    measured slower on a 2-core CPU at every paper shape once the recurrence had its custom JVP.)
    """
    return jnp.concatenate([lstm(params["fwd"], xs, mask, unroll=unroll),
                            lstm(params["bwd"], xs, mask, reverse=True, unroll=unroll)], -1)


# ----------------------------------------------------------------------------- kernel choice
KERNELS = ("auto", "scan", "cudnn", "directions")
AUTO_TRAIN = "auto-train"          # "auto" inside make_steps' one-model steps (see `blstm`)
_KERNEL = {"name": os.environ.get("EMOJAX_LSTM_KERNEL", "auto")}


def set_kernel(name: str) -> None:
    """Which BLSTM kernel `blstm` uses: ``"auto"`` (default; cuDNN in one-model train steps on a
    CUDA GPU, else the scan), ``"scan"``, ``"cudnn"`` (an error where cuDNN cannot run) or
    ``"directions"`` (the scan, a layer's two directions at once on two devices:
    `directions_layer`). Also ``$EMOJAX_LSTM_KERNEL``. The choice is made when a function is
    traced, so compiled functions are dropped here."""
    if name not in KERNELS:
        raise ValueError(f"LSTM kernel {name!r}: use one of {', '.join(KERNELS)}")
    _KERNEL["name"] = name
    jax.clear_caches()


@contextlib.contextmanager
def use_kernel(name: str):
    """Trace with kernel `name` inside the block (then back to the previous one). For a function
    that must keep one kernel, e.g. a jitted step whose model is traced here; unlike `set_kernel`
    it keeps compiled functions (the kernels compute the same function, so a program traced
    under another kernel is still right, only its speed differs)."""
    if name not in KERNELS + (AUTO_TRAIN,):
        raise ValueError(f"LSTM kernel {name!r}: use one of {', '.join(KERNELS)}")
    before, _KERNEL["name"] = _KERNEL["name"], name
    try:
        yield
    finally:
        _KERNEL["name"] = before


def _on_cuda() -> bool:
    try:
        dev = jax.devices()[0]
        return dev.platform == "gpu" and "cuda" in dev.client.platform_version.lower()
    except Exception:                              # no backend detail: not a CUDA GPU we know
        return False


def blstm(layers: list[Params], xs: jax.Array, mask: jax.Array, *, unroll: int = 1) -> jax.Array:
    """A stack of bidirectional layers: ``(..., T, F) -> (..., T, 2H)``; padded outputs are zero.

    Kernels (`set_kernel`, `use_kernel`): the scan below by default; cuDNN's LSTM
    (`emojax.nn.cudnn`) when forced (``"cudnn"``) or, with ``"auto"``, inside the one-model train
    and eval steps of `emojax.train.step.make_steps` on a CUDA GPU for models without peepholes
    (``"auto-train"``, set there). Only there: cuDNN's op has a custom VJP and no batching rule, so
    ``jax.jacfwd``, ``jax.jacrev`` and ``jax.vmap`` (stacked models, batched Jacobians) need the
    scan. The kernels compute the same function (tested through ``jax.experimental.rnn``'s
    reference); cuDNN follows ``jax_default_matmul_precision`` (TF32 on recent GPUs by default).
    """
    name = _KERNEL["name"]
    if name not in KERNELS + (AUTO_TRAIN,):
        raise ValueError(f"EMOJAX_LSTM_KERNEL={name!r}: use one of {', '.join(KERNELS)}")
    peephole = any("peep" in p[d] for p in layers for d in ("fwd", "bwd"))
    if name == "cudnn" and (peephole or not _on_cuda()):
        raise ValueError("LSTM kernel 'cudnn' needs a CUDA GPU and a model without peepholes; "
                         "set EMOJAX_LSTM_KERNEL=auto or scan")
    if name == "cudnn" or (name == AUTO_TRAIN and not peephole and _on_cuda()
                           and layers[0]["fwd"]["w_x"].dtype == jnp.float32):
        from emojax.nn import cudnn
        return cudnn.blstm(layers, xs, mask)
    layer = directions_layer if name == "directions" else bilstm_layer
    for p in layers:
        xs = layer(p, xs, mask, unroll=unroll)
    return xs


def train_kernel() -> str:
    """The kernel a one-model train step traces with: ``"auto-train"`` under ``"auto"`` (cuDNN
    where it can run), else the process's kernel."""
    return AUTO_TRAIN if _KERNEL["name"] == "auto" else _KERNEL["name"]


def kernel_in_use() -> str:
    """What a one-model train step runs here: "cudnn", "directions" or "scan" (for run records)."""
    name = train_kernel()
    return "cudnn" if name == "cudnn" or (name == AUTO_TRAIN and _on_cuda()) else (
        "directions" if name == "directions" else "scan")


def directions_layer(params: Params, xs: jax.Array, mask: jax.Array, *, unroll: int = 1) -> jax.Array:
    """`bilstm_layer` with its two directions computed at the same time, one on each of two devices
    (``shard_map`` over a mesh of this process's first two devices; the same numbers).

    On a CPU, XLA runs the two scans of a layer one after the other, and a scan's small per-step
    matmuls do not use a second core; two host devices (`emojax.runtime.cpu_devices`) give each
    direction a core: measured 1.6× on the recurrence's gradient at T = 500 on a 2-core VM.
    Opt-in (``EMOJAX_LSTM_KERNEL=directions``): one process, not inside models already sharded
    over those devices (``batched=true``'s model axis).
    """
    from jax.sharding import Mesh, PartitionSpec
    devices = jax.local_devices()[:2]
    if len(devices) < 2:
        raise ValueError("LSTM kernel 'directions' needs two devices; on a CPU the emojax CLI "
                         "makes two when EMOJAX_LSTM_KERNEL=directions (elsewhere: "
                         "emojax.runtime.cpu_devices(2) before JAX starts)")
    mesh = Mesh(np.array(devices), ("direction",))
    both = jax.tree.map(lambda f, b: jnp.stack([f, b]), params["fwd"], params["bwd"])

    def one(p, xs, mask):                        # this device's direction
        p = jax.tree.map(lambda a: a[0], p)
        return jax.lax.cond(jax.lax.axis_index("direction") == 0,
                            lambda: lstm(p, xs, mask, unroll=unroll),
                            lambda: lstm(p, xs, mask, reverse=True, unroll=unroll))[None]

    spec, rep = PartitionSpec("direction"), PartitionSpec()
    hs = jax.shard_map(one, mesh=mesh, in_specs=(spec, rep, rep), out_specs=spec,
                       check_vma=False)(both, xs, mask)
    return jnp.concatenate([hs[0], hs[1]], -1)
