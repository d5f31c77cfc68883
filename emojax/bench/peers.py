"""The implementations `emojax bench` times, each a builder ``Problem -> call``: the call runs one
step on the Problem's shared inputs and weights, blocks until it is done and returns its result.

Train steps (`TRAIN`), for every head of `emojax.bench.cases.Problem` (``frame``, ``mean``,
``ctc``, ``attention``):

- ``emojax``: the model from `emojax.models` (``Problem.apply``: woellmer, pooled,
  ``chernykh.apply_ctc`` or ``mirsamadi.model_fn("attention")``), `emojax.train.step.make_steps`
  with the losses of `emojax.train.losses` (``step_cross_entropy``, ``seq_cross_entropy``,
  ``ctc``), ``optax.adam``; Jacobians by `emojax.analysis.jacobian`.
- ``flax``: ``flax.linen`` (``nn.Bidirectional`` of two ``nn.RNN(nn.OptimizedLSTMCell)`` per layer,
  the same head, ``nn.Dropout`` where the Problem has dropout), ``optax.ctc_loss`` for CTC, jitted
  step, ``optax.adam``; `to_flax_params` converts the emojax weights.
- ``torch``: ``torch.nn.LSTM(bidirectional=True, batch_first=True)``, the same head
  (``nn.Dropout`` in train mode; ``F.ctc_loss`` for CTC), ``torch.optim.Adam``; Jacobians by
  ``torch.func.jacrev`` and ``torch.autograd.functional.jacobian``; `to_torch_model` converts the
  weights. torch is imported lazily.

Every row starts from the same weights. Dropout draws its own masks in each library (emojax and
Flax a fresh key per step), so losses agree across libraries only with ``Problem.dropout = 0``.

The ``ctc`` case (`CTC`): the mean CTC loss over the batch and its gradient w.r.t. the logits,
log-softmax included: ``emojax`` (`emojax.nn.ctc.ctc_loss_batch`), ``optax``
(``optax.ctc_loss``), both jitted ``value_and_grad``; ``torch`` (``F.log_softmax`` +
``F.ctc_loss(reduction="none")`` + ``backward``, the native CTC kernel) on every core, and
``torch_1thread``, the same on one thread (see `torch_ctc`).
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import optax

from emojax.analysis import jacobian as jac
from emojax.nn.ctc import ctc_loss_batch
from emojax.train.losses import ctc as ctc_loss
from emojax.train.losses import seq_cross_entropy, step_cross_entropy
from emojax.train.step import make_steps

if TYPE_CHECKING:                                   # cases.py imports this module for its table
    from emojax.bench.cases import Problem

LR = 1e-3                 # Adam learning rate, the same in every implementation


# ----------------------------------------------------------------------------- emojax
def _dropout_keys(pb: Problem) -> Callable[[], jax.Array]:
    """The JAX rows' PRNG key per call: a fresh one per step when the Problem has dropout (as a
    training loop draws one; the same small dispatch in emojax and Flax), else one fixed key."""
    key, n = jax.random.PRNGKey(0), [0]
    if not pb.dropout:
        return lambda: key

    def fresh():
        n[0] += 1
        return jax.random.fold_in(key, n[0])
    return fresh


def emojax_train(pb: Problem, kernel: str | None = None) -> Callable[[], Any]:
    """`make_steps` on ``pb.apply`` with the head's loss: `step_cross_entropy` (``"frame"``),
    `seq_cross_entropy` (``"mean"``, ``"attention"``: make_steps hands Mirsamadi's model a dropout
    key) or `emojax.train.losses.ctc` (``"ctc"``, blank last). `kernel`: the model's BLSTMs traced
    with that `emojax.nn.lstm` kernel (default: the process's)."""
    d = pb.data
    params = jax.tree.map(jnp.asarray, d["params"])
    opt = optax.adam(LR)
    state = [params, opt.init(params)]
    xs, ys, mask = (jnp.asarray(d[k]) for k in ("xs", "ys", "mask"))
    if pb.head == "frame":                       # a label per step
        loss_fn, batch = step_cross_entropy, {"x": xs, "y_step": ys, "mask": mask}
    elif pb.head == "ctc":                       # a one-label target sequence per utterance
        loss_fn = functools.partial(ctc_loss, blank=pb.blank, zero_infinity=True)
        batch = {"x": xs, "mask": mask, "labels": ys[:, None],
                 "label_mask": jnp.ones((pb.batch, 1), bool)}
    else:                                        # a label per sequence
        loss_fn, batch = seq_cross_entropy, {"x": xs, "y_seq": ys, "mask": mask}
    apply = pb.apply
    if kernel is not None:
        from emojax.nn.lstm import use_kernel

        def apply(*args, **kw):
            with use_kernel(kernel):
                return pb.apply(*args, **kw)
    step, _ = make_steps(apply, loss_fn, opt)
    next_key = _dropout_keys(pb)

    def run():
        p, o, loss = step(*state, next_key(), batch)
        state[:] = [p, o]
        return jax.block_until_ready((p, o, loss))[2]
    return run


def emojax_jacobian(mode: str) -> Callable[[Problem], Callable[[], Any]]:
    def build(pb: Problem):
        d = pb.data
        params = jax.tree.map(jnp.asarray, d["params"])
        xs, mask = jnp.asarray(d["xs"]), jnp.asarray(d["mask"])
        apply = pb.apply                         # a module-level function: hashable, jit-static
        if pb.single:
            f = lambda: jac.sequential_jacobian(apply, params, xs[0], mask[0], mode=mode)
        else:
            f = lambda: jac.batched_sequential_jacobian(apply, params, xs, mask, mode=mode)
        return lambda: jax.block_until_ready(f())
    return build


# ----------------------------------------------------------------------------- flax
def _flax_module(pb: Problem):
    import flax.linen as nn

    class FlaxBLSTM(nn.Module):
        """``nn.Bidirectional`` of two ``nn.RNN(nn.OptimizedLSTMCell)`` per layer, then the head:
        ``"frame"`` / ``"ctc"``: ``nn.Dense`` per frame; ``"mean"``: mean over the valid frames;
        ``"attention"``: α = softmax over valid frames of u·y_t (``att_u``), z = Σ α_t y_t,
        ``nn.Dropout`` on z (``train=True`` with a ``"dropout"`` rng); then ``nn.Dense``."""
        hidden: int
        layers: int
        outputs: int
        head: str
        dropout: float

        @nn.compact
        def __call__(self, xs, mask, train: bool = False):               # (B, T, F), (B, T)
            lengths = mask.sum(-1)
            h = xs
            for layer in range(self.layers):
                fwd = nn.RNN(nn.OptimizedLSTMCell(self.hidden, name=f"fwd{layer}"))
                bwd = nn.RNN(nn.OptimizedLSTMCell(self.hidden, name=f"bwd{layer}"),
                             reverse=True, keep_order=True)
                h = nn.Bidirectional(fwd, bwd)(h, seq_lengths=lengths)   # (B, T, 2H)
            if self.head == "mean":
                m = mask.astype(h.dtype)[..., None]
                h = (h * m).sum(1) / jnp.maximum(m.sum(1), 1.0)          # (B, 2H)
            elif self.head == "attention":
                u = self.param("att_u", nn.initializers.zeros, (h.shape[-1],))
                alpha = jax.nn.softmax(jnp.where(mask, h @ u, -jnp.inf), axis=-1)   # (B, T)
                h = jnp.einsum("bt,btd->bd", alpha, h)                   # (B, T, 2H) -> (B, 2H)
                h = nn.Dropout(self.dropout, deterministic=not train)(h)
            return nn.Dense(self.outputs, name="out")(h)

    return FlaxBLSTM(pb.hidden, pb.layers, pb.outputs, pb.head, pb.dropout)


def to_flax_params(params: dict) -> dict:
    """emojax weights (``w_x (F, 4H)``, ``w_h``, ``b``; gates i, f, g, o) in Flax's per-gate layout;
    the dense head as ``out``, Mirsamadi's attention vector ``att.u`` as ``att_u``."""
    if params.get("lld"):
        raise ValueError("the bench's Flax model has no LLD layers (hand-crafted LLDs only)")
    out = {"out": {"kernel": params["out"]["w"], "bias": params["out"]["b"]}}
    if "att" in params:
        if set(params["att"]) != {"u"}:
            raise ValueError(f"attention params {sorted(params['att'])}: only the linear score "
                             "(u) is converted")
        out["att_u"] = params["att"]["u"]
    for layer, p in enumerate(params["blstm"]):
        for direction in ("fwd", "bwd"):
            q = p[direction]
            H = q["w_h"].shape[0]
            cell = {}
            for g, gate in enumerate("ifgo"):
                cols = slice(g * H, (g + 1) * H)
                cell[f"i{gate}"] = {"kernel": q["w_x"][:, cols]}
                cell[f"h{gate}"] = {"kernel": q["w_h"][:, cols], "bias": q["b"][cols]}
            out[f"{direction}{layer}"] = cell
    return {"params": jax.tree.map(jnp.asarray, out)}


def flax_train(pb: Problem) -> Callable[[], Any]:
    """A jitted ``value_and_grad`` + ``optax.adam`` step; the head's loss: masked cross-entropy per
    step (``"frame"``), cross-entropy per sequence (``"mean"``, ``"attention"``) or
    ``optax.ctc_loss`` (``"ctc"``, ``blank_id`` last, mean over the batch)."""
    model = _flax_module(pb)
    d = pb.data
    params = to_flax_params(d["params"])
    opt = optax.adam(LR)
    state = [params, opt.init(params)]
    xs, ys, mask = (jnp.asarray(d[k]) for k in ("xs", "ys", "mask"))
    next_key = _dropout_keys(pb)

    def loss_fn(params, key, xs, ys, mask):
        logits = model.apply(params, xs, mask, train=True, rngs={"dropout": key})
        if pb.head == "ctc":                                   # (B, T, K + 1); labels (B, 1)
            pads = 1.0 - mask.astype(logits.dtype)
            return optax.ctc_loss(logits, pads, ys[:, None], jnp.zeros((pb.batch, 1)),
                                  blank_id=pb.blank).mean()
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, ys)
        if pb.head != "frame":
            return ce.mean()
        m = mask.astype(ce.dtype)
        return (ce * m).sum() / jnp.maximum(m.sum(), 1.0)

    @jax.jit
    def step(params, opt_state, key, xs, ys, mask):
        loss, grads = jax.value_and_grad(loss_fn)(params, key, xs, ys, mask)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def run():
        p, o, loss = step(*state, next_key(), xs, ys, mask)
        state[:] = [p, o]
        return jax.block_until_ready((p, o, loss))[2]
    return run


# ----------------------------------------------------------------------------- torch
def import_torch():
    """Import torch lazily (an optional peer), using every core."""
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    return torch


def torch_device() -> str:
    """``cuda`` when JAX runs on a GPU and torch can too; otherwise ``cpu``."""
    torch = import_torch()
    return "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"


def to_torch_model(pb: Problem):
    """``nn.LSTM(bidirectional, batch_first)`` + ``nn.Linear`` holding the Problem's initial weights."""
    torch = import_torch()
    params = pb.data["params"]
    lstm = torch.nn.LSTM(pb.feats, pb.hidden, num_layers=pb.layers, bidirectional=True,
                         batch_first=True)
    lin = torch.nn.Linear(2 * pb.hidden, pb.outputs)
    with torch.no_grad():
        for layer, p in enumerate(params["blstm"]):
            for direction, suffix in (("fwd", ""), ("bwd", "_reverse")):
                q = p[direction]
                getattr(lstm, f"weight_ih_l{layer}{suffix}").copy_(torch.tensor(q["w_x"].T))
                getattr(lstm, f"weight_hh_l{layer}{suffix}").copy_(torch.tensor(q["w_h"].T))
                getattr(lstm, f"bias_ih_l{layer}{suffix}").copy_(torch.tensor(q["b"]))
                getattr(lstm, f"bias_hh_l{layer}{suffix}").zero_()
        lin.weight.copy_(torch.tensor(params["out"]["w"].T))
        lin.bias.copy_(torch.tensor(params["out"]["b"]))
    dev = torch_device()
    return lstm.to(dev), lin.to(dev), dev


def torch_train(pb: Problem) -> Callable[[], Any]:
    """``nn.LSTM`` + the head + ``torch.optim.Adam``: ``F.cross_entropy`` per step (``"frame"``) or
    per sequence (``"mean"``; ``"attention"``: u·y_t softmax pooling, then ``nn.Dropout`` on z in
    train mode), ``F.ctc_loss`` on ``log_softmax`` in the (T, B, K + 1) layout (``"ctc"``, blank
    last, ``zero_infinity``, mean over the batch)."""
    torch = import_torch()
    F = torch.nn.functional
    lstm, lin, dev = to_torch_model(pb)
    d = pb.data
    xs = torch.tensor(d["xs"], device=dev)
    ys = torch.tensor(d["ys"], dtype=torch.long, device=dev)
    valid = torch.tensor(d["mask"], device=dev)                          # (B, T) bool
    mask = valid.float()
    weights = list(lstm.parameters()) + list(lin.parameters())
    if pb.head == "attention":
        u = torch.nn.Parameter(torch.tensor(d["params"]["att"]["u"], device=dev))   # (2H,)
        weights.append(u)
        drop = torch.nn.Dropout(pb.dropout).to(dev).train()
    if pb.head == "ctc":
        lengths = valid.sum(1)                                            # (B,) frames
        label_lengths = torch.ones(pb.batch, dtype=torch.long, device=dev)
    opt = torch.optim.Adam(weights, lr=LR)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)

    def loss_of(h):                                                       # h (B, T, 2H)
        if pb.head == "mean":
            m = mask[..., None]
            return F.cross_entropy(lin((h * m).sum(1) / m.sum(1).clamp(min=1.0)), ys)
        if pb.head == "attention":
            alpha = torch.softmax((h @ u).masked_fill(~valid, float("-inf")), dim=1)   # (B, T)
            z = (alpha[..., None] * h).sum(1)                             # (B, 2H)
            return F.cross_entropy(lin(drop(z)), ys)
        if pb.head == "ctc":
            lp = F.log_softmax(lin(h), dim=-1).transpose(0, 1)           # (T, B, K + 1)
            return F.ctc_loss(lp, ys[:, None], lengths, label_lengths, blank=pb.blank,
                              reduction="none", zero_infinity=True).mean()
        ce = F.cross_entropy(lin(h).reshape(-1, pb.outputs), ys.reshape(-1), reduction="none")
        m = mask.reshape(-1)
        return (ce * m).sum() / m.sum().clamp(min=1.0)

    def run():
        opt.zero_grad(set_to_none=True)
        loss = loss_of(lstm(xs)[0])
        loss.backward()
        opt.step()
        sync()
        return loss.detach()
    return run


def _torch_softmax_model(pb: Problem, fused: bool):
    """(torch, f, xs, ctx, sync): ``f`` maps one sequence (T, F) -> softmax outputs (T, K), or a batch
    (B, T, F) -> (B, T, K) with ``batched=True``; ``ctx()`` turns the fused RNN kernels (oneDNN on
    the CPU, cuDNN on the GPU) on or off for the call."""
    torch = import_torch()
    lstm, lin, dev = to_torch_model(pb)
    for p in list(lstm.parameters()) + list(lin.parameters()):
        p.requires_grad_(False)

    def f(x, batched=False):
        x = x if batched else x[None]               # run nn.LSTM batched (B=1): vmap needs that form
        # zero initial state computed FROM x, so that under vmap it is batched like x (nn.LSTM's own
        # zeros are not, and its unfused kernel then writes batched values into an unbatched buffer)
        z = (x[:, :1, :1] * 0).reshape(1, -1, 1).expand(2 * pb.layers, x.shape[0], pb.hidden)
        y = torch.softmax(lin(lstm(x, (z, z))[0]), dim=-1)
        return y if batched else y[0]

    xs = torch.tensor(pb.data["xs"], device=dev)
    backend = torch.backends.cudnn if dev == "cuda" else torch.backends.mkldnn

    @contextlib.contextmanager
    def ctx():                                      # (mkldnn.flags() warns about Intel-GPU TF32)
        old, backend.enabled = backend.enabled, fused
        try:
            yield
        finally:
            backend.enabled = old
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    return torch, f, xs, ctx, sync


def torch_jacobian_func(pb: Problem, fused: bool = False) -> Callable[[], Any]:
    """``torch.func.jacrev`` of one sequence; ``torch.func.vmap`` of it over the batch.

    Unfused by default: functorch has no batching rule for the fused RNN kernels (on the CPU it
    falls back to a per-sample loop, 50× slower; cuDNN's fails outright)."""
    torch, f, xs, ctx, sync = _torch_softmax_model(pb, fused)
    jf = torch.func.jacrev(f)
    g = (lambda: jf(xs[0])) if pb.single else (lambda: torch.func.vmap(jf)(xs))
    return _torch_call(g, ctx, sync)


def torch_jacobian_autograd(pb: Problem, fused: bool = False) -> Callable[[], Any]:
    """``torch.autograd.functional.jacobian(vectorize=True)``; for a batch, of the outputs summed
    over the batch (sequences are independent, so this is exact: (T, K, B, T, F) -> (B, T, K, T, F))."""
    torch, f, xs, ctx, sync = _torch_softmax_model(pb, fused)
    J_ = torch.autograd.functional.jacobian
    if pb.single:
        g = lambda: J_(f, xs[0], vectorize=True)
    else:
        g = lambda: J_(lambda x: f(x, batched=True).sum(0), xs,
                       vectorize=True).permute(2, 0, 1, 3, 4)
    return _torch_call(g, ctx, sync)


def _torch_call(g, ctx, sync) -> Callable[[], Any]:
    """One timed call of `g` inside torch's context manager, synchronised (CUDA is asynchronous)."""
    def run():
        with ctx():
            J = g()
        sync()
        return J
    return run


# ----------------------------------------------------------------------------- the ctc case
def _ctc_inputs(pb):
    d = pb.data
    return tuple(jnp.asarray(d[k]) for k in ("logits", "mask", "labels", "label_mask"))


def _jax_call(f, logits) -> Callable[[], Any]:
    f = jax.jit(jax.value_and_grad(f))
    return lambda: jax.block_until_ready(f(logits))[0]


def emojax_ctc(pb) -> Callable[[], Any]:
    logits, mask, labels, label_mask = _ctc_inputs(pb)
    return _jax_call(lambda z: ctc_loss_batch(z, mask, labels, label_mask, blank=pb.blank).mean(),
                     logits)


def optax_ctc(pb) -> Callable[[], Any]:
    logits, mask, labels, label_mask = _ctc_inputs(pb)
    pads, label_pads = 1.0 - mask.astype(jnp.float32), 1.0 - label_mask.astype(jnp.float32)
    return _jax_call(lambda z: optax.ctc_loss(z, pads, labels, label_pads,
                                              blank_id=pb.blank).mean(), logits)


def torch_ctc(pb, threads: int | None = None) -> Callable[[], Any]:
    """``threads``: torch's intra-op threads during the call (default: every core, as the other
    torch rows). On a CPU that other processes keep busy, torch's OpenMP barrier over all cores
    waits for a descheduled thread (~30 ms a call on 2 shared cores); ``torch_1thread`` shows
    torch without it."""
    torch = import_torch()
    dev = torch_device()
    d = pb.data
    z = torch.tensor(d["logits"], device=dev, requires_grad=True)
    labels = torch.tensor(d["labels"], dtype=torch.long, device=dev)
    n = torch.tensor(d["mask"].sum(1), dtype=torch.long, device=dev)
    nl = torch.tensor(d["label_mask"].sum(1), dtype=torch.long, device=dev)
    F = torch.nn.functional
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)

    def run():
        old = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        try:
            z.grad = None
            lp = F.log_softmax(z, dim=-1).transpose(0, 1)                # (T, B, K)
            loss = F.ctc_loss(lp, labels, n, nl, blank=pb.blank, reduction="none").mean()
            loss.backward()
            sync()
        finally:
            torch.set_num_threads(old)
        return loss.detach()
    return run


# ----------------------------------------------------------------------------- rows of a case
Builder = Callable[["Problem"], Callable[[], Any]]
TRAIN: list[tuple[str, Builder]] = [
    ("emojax", emojax_train),
    ("emojax_directions", functools.partial(emojax_train, kernel="directions")),
    ("emojax_scan", functools.partial(emojax_train, kernel="scan")),
    ("flax", flax_train), ("torch", torch_train)]
JACOBIAN: list[tuple[str, Builder]] = [("emojax", emojax_jacobian("auto")),
                                       ("emojax_jacfwd", emojax_jacobian("fwd")),
                                       ("torch", torch_jacobian_func),
                                       ("torch_autograd", torch_jacobian_autograd)]
CTC: list[tuple[str, Builder]] = [("emojax", emojax_ctc), ("optax", optax_ctc), ("torch", torch_ctc),
                                  ("torch_1thread", lambda pb: torch_ctc(pb, threads=1))]
PEERS = {"flax": "flax", "torch": "torch", "optax": "optax"}   # impl prefix -> module to import


def unavailable(impl: str) -> str | None:
    """Why a row cannot run here, or None."""
    if impl == "emojax_directions" and len(jax.local_devices()) < 2:
        return "needs two devices (emojax bench makes two of a CPU with two or more cores)"
    if impl == "emojax_scan":
        from emojax.nn.lstm import kernel_in_use
        if kernel_in_use() == "scan":
            return "the `emojax` row is the scan kernel here"
    mod = PEERS.get(impl.split("_")[0])
    if mod is not None and importlib.util.find_spec(mod) is None:
        return f"{mod} is not installed"
    return None


def available(impl: str) -> bool:
    return unavailable(impl) is None
