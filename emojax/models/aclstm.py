"""Hsu & Wu's segment-based audio-visual models: the segment encoders (audio CNNs, the visual frame
network), the neural tensor network, and the four fusion models of their Table 3.

    enc = init_audio_cnn(key, 34, 7, kernel=64, filters=300)
    logits, aux = audio_cnn(enc, frames, mask)          # (..., K); aux["features"] (..., 128)
    vis = init_visual(key, 30, 7)
    logits, aux = visual_frames(vis, frames, mask)      # per frame (..., T, K); aux["hidden"]
    apply = model_fn("aclstm", dims=(256, 128))         # x = [audio | visual | s] per segment
    logits, aux = apply(params, xs, mask)               # (..., S, K) per segment

Encoders (the paper's Fig. 3 and §III-B; widths of Table 2):

- ``audio_cnn``: a 1-D convolution over the frames of a segment (``kernel`` frames, ``filters``
  maps, 'same' padding, ReLU), max over the segment's valid frames, a dense ReLU layer of
  ``hidden`` units (the segment's audio feature vector), a softmax layer. Trained twice: on the
  verbal segments with the audio emotion label (kernel 64, 300 filters), and on every segment with
  the sound type (kernel 32, 700 filters).
- ``visual_frames``: per face frame (the paper: VGG-19 on face crops; here MoCap-like face frames
  or a user's per-frame face features): a 1-D convolution over 3 neighbouring frames (64 maps,
  ReLU), a dense ReLU layer of ``hidden`` units, a softmax layer; trained with the segment's
  visual label at every frame; the segment's visual feature vector is the mean of the hidden
  layer over its frames (as the paper averages VGG's hidden vectors).

Fusion models over the segments of a clip; ``x`` per segment is ``[audio (Da) | visual (Dv) |
s]`` where s is the NTN consistency score of that segment (read by ``aclstm`` only). Every model
runs forward over the segments (a segment sees its predecessors) with ``hidden`` units:

- ``feature_fusion``: an attention LSTM over ``[audio | visual]``: at segment t the LSTM state
  h_t and an attention context over h_1..h_t (score u · tanh(W h + b), softmax over the valid
  predecessors) feed a dense ReLU layer and a softmax layer;
- ``decision_fusion``: one such attention LSTM per modality, each with its own softmax, trained
  on its own cross-entropy (`decision_loss`); the decision is the mean of the two posteriors
  (`decision_posteriors`). Outputs are (..., S, 2, K);
- ``coupled``: the coupled LSTM (`emojax.nn.coupled`, eq. 3), h_A + h_V, a dense ReLU layer
  and a softmax layer (the paper's "two linear layers and softmax"; the ReLU between them is ours:
  two purely linear layers would be one);
- ``aclstm``: the same with eq. 5 (``weighting`` both or counterpart) and the scores s.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from emojax.nn import coupled as C
from emojax.nn import lstm as L
from emojax.nn.dense import dense, dropout, init_dense, relu_dense

MODELS = ("feature_fusion", "decision_fusion", "coupled", "aclstm")
HIDDEN = 128           # Table 2: "Attentively-Coupled LSTM: hidden dimension = 128"


def _keys(key, n):
    return [None] * n if key is None else list(jax.random.split(key, n))


def _conv(w: jax.Array, b: jax.Array, xs: jax.Array) -> jax.Array:
    """'same' 1-D convolution over time: ``xs (..., T, F)``, ``w (W, F, O)`` -> (..., T, O)."""
    lead = xs.shape[:-2]
    x = xs.reshape((-1,) + xs.shape[-2:])
    y = jax.lax.conv_general_dilated(x, w, (1,), "SAME", dimension_numbers=("NWC", "WIO", "NWC"))
    return y.reshape(lead + y.shape[-2:]) + b.reshape((1,) * (len(lead) + 1) + b.shape)


def _init_conv(key, kernel: int, in_dim: int, filters: int) -> dict:
    lim = (6.0 / (kernel * in_dim + filters)) ** 0.5
    return {"w": jax.random.uniform(key, (kernel, in_dim, filters), jnp.float32, -lim, lim),
            "b": jnp.zeros((filters,), jnp.float32)}


# ----------------------------------------------------------------------------- encoders
def init_audio_cnn(key, in_dim: int, n_classes: int, *, kernel: int = 64, filters: int = 300,
                   hidden: int = HIDDEN) -> dict:
    k1, k2, k3 = jax.random.split(key, 3)
    return {"conv": _init_conv(k1, kernel, in_dim, filters), "hidden": init_dense(k2, filters, hidden),
            "out": init_dense(k3, hidden, n_classes)}


def audio_cnn(params: dict, xs: jax.Array, mask: jax.Array, key: jax.Array | None = None, *,
              rate: float = 0.3):
    """``(logits (..., K), {"features": (..., hidden)})`` of segments ``xs (..., T, F)``."""
    k1, k2 = _keys(key, 2)
    m = mask[..., None]
    y = jax.nn.relu(_conv(params["conv"]["w"], params["conv"]["b"], xs * m))
    pooled = jnp.max(jnp.where(m, y, -1e9), axis=-2)                         # (..., O), finite
    pooled = jnp.where(mask.any(-1, keepdims=True), pooled, 0.0)              # empty (padded) rows
    feat = relu_dense(params["hidden"], dropout(k1, pooled, rate))
    return dense(params["out"], dropout(k2, feat, rate)), {"features": feat}


def init_visual(key, in_dim: int, n_classes: int, *, filters: int = 64, hidden: int = HIDDEN) -> dict:
    k1, k2, k3 = jax.random.split(key, 3)
    return {"conv": _init_conv(k1, 3, in_dim, filters), "hidden": init_dense(k2, filters, hidden),
            "out": init_dense(k3, hidden, n_classes)}


def visual_frames(params: dict, xs: jax.Array, mask: jax.Array, key: jax.Array | None = None, *,
                  rate: float = 0.3):
    """Per frame: ``(logits (..., T, K), {"hidden": (..., T, hidden)})``."""
    k1, k2 = _keys(key, 2)
    y = jax.nn.relu(_conv(params["conv"]["w"], params["conv"]["b"], xs * mask[..., None]))
    h = relu_dense(params["hidden"], dropout(k1, y, rate))
    return dense(params["out"], dropout(k2, h, rate)), {"hidden": h}


def visual_features(params: dict, xs: jax.Array, mask: jax.Array) -> jax.Array:
    """The segment's visual feature vector: the mean hidden layer over its valid frames."""
    from emojax.nn.pooling import mean_pool
    return mean_pool(visual_frames(params, xs, mask)[1]["hidden"], mask)


def audio_apply(rate: float):
    """`audio_cnn` with dropout `rate` as a model function ``(params, xs, mask, key=None)``."""
    return _with_rate(audio_cnn, rate)


def visual_apply(rate: float):
    return _with_rate(visual_frames, rate)


@functools.lru_cache(maxsize=None)
def _with_rate(fn, rate: float):
    def apply(params, xs, mask, key=None):
        return fn(params, xs, mask, key, rate=rate)
    apply.__name__ = f"{fn.__name__}_{rate}"
    return apply


# ----------------------------------------------------------------------------- the NTN as a model
def init_ntn_model(key, da: int, dv: int, rank: int = 5) -> dict:
    return {"ntn": C.init_ntn(key, da, dv, rank)}


@functools.lru_cache(maxsize=None)
def ntn_model(da: int):
    """``x = [audio (da) | visual]`` per segment -> logits (..., S, 2) = [0, NTN logit], so the
    softmax of the second column is σ(logit): the cross-entropy against "the segment's audio and
    visual labels agree" is the NTN's logistic loss."""
    def apply(params, xs, mask):
        z = C.ntn_logit(params["ntn"], xs[..., :da], xs[..., da:])
        return jnp.stack([jnp.zeros_like(z), z], -1), {}
    apply.__name__ = f"ntn_{da}"
    return apply


# ----------------------------------------------------------------------------- fusion models
def _init_att_lstm(key, in_dim: int, hidden: int, n_classes: int, forget_bias: float) -> dict:
    k1, k2, k3, k4 = jax.random.split(key, 4)
    k = hidden ** -0.5
    return {"lstm": L.init_lstm(k1, in_dim, hidden, forget_bias=forget_bias),
            "att": {"w": jax.random.uniform(k2, (hidden, hidden), jnp.float32, -k, k),
                    "b": jnp.zeros((hidden,), jnp.float32), "u": jnp.zeros((hidden,), jnp.float32)},
            "hidden": init_dense(k3, 2 * hidden, hidden), "out": init_dense(k4, hidden, n_classes)}


def causal_attention(att: dict, h: jax.Array, mask: jax.Array):
    """Per step t: ``Σ_{τ <= t} α_{t,τ} h_τ`` with α a softmax over the valid τ <= t of
    ``u · tanh(W h_τ + b)``: ``h (..., T, H) -> (context (..., T, H), alpha (..., T, T))``."""
    T = h.shape[-2]
    e = jnp.tanh(h @ att["w"] + att["b"].reshape((1,) * (h.ndim - 1) + (-1,))) @ att["u"]  # (..., T)
    past = jnp.tril(jnp.ones((T, T), bool)).reshape((1,) * (mask.ndim - 1) + (T, T))
    allowed = past & mask[..., None, :]                                            # (..., t, τ)
    logits = jnp.where(allowed, e[..., None, :], -jnp.inf)
    alpha = jax.nn.softmax(logits, axis=-1)
    alpha = jnp.where(allowed, alpha, 0.0)
    return alpha @ h, alpha


def _att_lstm(p: dict, xs, mask, keys, rate):
    h = L.lstm(p["lstm"], xs, mask)
    ctx, alpha = causal_attention(p["att"], h, mask)
    z = relu_dense(p["hidden"], dropout(keys[0], jnp.concatenate([h, ctx], -1), rate))
    return dense(p["out"], dropout(keys[1], z, rate)), alpha


def init(key, kind: str, dims: tuple[int, int], n_classes: int, *, hidden: int = HIDDEN,
         forget_bias: float = 1.0) -> dict:
    """Parameters of fusion model `kind` for per-segment inputs ``[audio (Da) | visual (Dv) | s]``."""
    da, dv = dims
    k1, k2, k3, k4 = jax.random.split(key, 4)
    if kind == "feature_fusion":
        return {"av": _init_att_lstm(k1, da + dv, hidden, n_classes, forget_bias)}
    if kind == "decision_fusion":
        return {"a": _init_att_lstm(k1, da, hidden, n_classes, forget_bias),
                "v": _init_att_lstm(k2, dv, hidden, n_classes, forget_bias)}
    if kind in ("coupled", "aclstm"):
        return {"cells": C.init_coupled(k1, da, dv, hidden, forget_bias=forget_bias),
                "hidden": init_dense(k3, hidden, hidden), "out": init_dense(k4, hidden, n_classes)}
    raise ValueError(f"model {kind!r}: use one of {', '.join(MODELS)}")


@functools.lru_cache(maxsize=None)
def model_fn(kind: str, dims: tuple[int, int], *, weighting: str = "both", rate: float = 0.3):
    """``apply(params, xs, mask, key=None) -> (logits, aux)`` of fusion model `kind`; one function
    object per structure (compiled steps are reused across folds)."""
    if kind not in MODELS:
        raise ValueError(f"model {kind!r}: use one of {', '.join(MODELS)}")
    da, dv = dims

    def apply(params, xs, mask, key=None):
        xa, xv, s = xs[..., :da], xs[..., da:da + dv], xs[..., da + dv]
        ks = _keys(key, 4)
        if kind == "feature_fusion":
            logits, alpha = _att_lstm(params["av"], xs[..., :da + dv], mask, ks[:2], rate)
            return logits, {"alpha": alpha}
        if kind == "decision_fusion":
            la, aa = _att_lstm(params["a"], xa, mask, ks[:2], rate)
            lv, av = _att_lstm(params["v"], xv, mask, ks[2:], rate)
            return jnp.stack([la, lv], -2), {"alpha_a": aa, "alpha_v": av}
        ha, hv = C.coupled_lstm(params["cells"], xa, xv, mask,
                                s=s if kind == "aclstm" else None, weighting=weighting)
        z = relu_dense(params["hidden"], dropout(ks[0], ha + hv, rate))
        return dense(params["out"], dropout(ks[1], z, rate)), {}
    apply.__name__ = f"hsuwu_{kind}_{weighting}_{rate}"
    return apply


def decision_loss(outputs: jax.Array, batch: dict):
    """Decision-level fusion: the mean over valid segments of both branches' cross-entropies
    (each branch learns its own modality; they share nothing but the stopping epoch)."""
    from emojax.train.losses import step_cross_entropy
    la, wa = step_cross_entropy(outputs[..., 0, :], batch)
    lv, _ = step_cross_entropy(outputs[..., 1, :], batch)
    return 0.5 * (la + lv), wa


def decision_posteriors(outputs) -> jax.Array:
    """The decision: the mean of the two branches' posteriors, ``(..., 2, K) -> (..., K)``."""
    return jax.nn.softmax(jnp.asarray(outputs), -1).mean(-2)
