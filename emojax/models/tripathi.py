"""Tripathi et al. 2019: speech, text and motion-capture models, and their fusion at the last layer.

    lay = Layout(text_dim=300)
    params = init(key, "speech_batt", lay, 4, vocab=2000)
    apply = model_fn("speech_batt", lay)
    logits, aux = apply(params, xs, mask)            # (..., K); aux["penultimate"] (..., U)

**Packed inputs.** One utterance is one array ``x (R, C)`` holding every modality, so the one
training engine (`emojax.train.fit`) serves every model: rows 0..99 of columns 0..33 are the 100
speech frames of 34 features (zero-padded, as the paper: its models read the padding), column 34
holds the transcript's token ids in its first ``text_steps`` rows (`emojax.features.text`; 0 =
padding, masked; the text models run over those rows only), rows 0..199 of columns 35..223 the
200 MoCap chunks (`emojax.features.visual.chunk_means`: face 165, hand 18, head 6), and column 224
of row 0 says whether the utterance has MoCap. R = max(200, text_steps).

Models (§4; widths as the paper; ``rate`` = dropout on hidden layers, 0.2 as the paper's conv
models, where the paper names none for the others):

- speech: ``speech_mlp`` (Speech_Model1: the flattened 100 x 34 frames, dense ReLU 1024, 512,
  256), ``speech_lstm`` (Model2: LSTM 512, LSTM 256, its last state, dense ReLU 512),
  ``speech_att`` (Model3: LSTM 128, LSTM 128 with attention pooling, dense ReLU 512),
  ``speech_batt`` (Model4: the same with bidirectional LSTMs);
- text: ``text_cnn`` (Text_Model1: embeddings, 1-D convolutions of kernel 3 with 256, 128, 64, 32
  filters, ReLU, dropout 0.2, max over the valid tokens — the paper gives no pooling —, dense ReLU
  256), ``text_lstm`` (Model2: embeddings (GloVe-300 when given), LSTM 512, LSTM 256, the last
  valid state, dense ReLU 512), ``text_lstm128`` (Model3: random 128-d embeddings);
- MoCap: ``head_lstm`` / ``hand_lstm`` (LSTM 256, dense ReLU 256), ``head_dense`` /
  ``hand_dense`` (the flattened chunks, dense ReLU 256), ``face_lstm`` (LSTM 512, LSTM 256, dense
  ReLU 512), ``face_conv`` (five 3x3 convolutions of stride 2 with 32, 64, 64, 128, 128 filters,
  ReLU, dropout 0.2, flattened, dense ReLU 256) and ``mocap_conv`` (Mocap_Model1: the same over
  all 189 columns);
- ``fusion`` (§5.1, Fig. 1): ``speech_batt``, ``text_lstm`` and ``mocap_conv`` without their
  softmax layers, their last hidden layers concatenated, a dense ReLU layer of ``fusion`` units,
  a softmax layer; trained end to end. An utterance without MoCap feeds the MoCap branch zeros
  and says so through its flag (column 224), which the fusion layer also reads.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from emojax.nn import lstm as L
from emojax.nn import pooling as P
from emojax.nn.dense import dense, dropout, init_dense, relu_dense

SPEECH = ("speech_mlp", "speech_lstm", "speech_att", "speech_batt")
TEXT = ("text_cnn", "text_lstm", "text_lstm128")
MOCAP = ("head_lstm", "head_dense", "hand_lstm", "hand_dense", "face_lstm", "face_conv", "mocap_conv")
MODELS = SPEECH + TEXT + MOCAP + ("fusion",)
# the paper's optimisers (§4): Adadelta for the LSTMs and the speech MLP, Adam for convolutional
# and dense models; the fused model's is not stated (Adam here)
OPTIMIZER = {m: "adadelta" for m in ("speech_mlp", "speech_lstm", "speech_att", "speech_batt",
                                      "text_lstm", "text_lstm128", "head_lstm", "hand_lstm",
                                      "face_lstm")}
FACE, HAND, HEAD = slice(0, 165), slice(165, 183), slice(183, 189)
CONV_FILTERS = (32, 64, 64, 128, 128)


@dataclasses.dataclass(frozen=True)
class Layout:
    speech_frames: int = 100
    speech_dim: int = 34
    mocap_chunks: int = 200
    mocap_dim: int = 189
    text_dim: int = 300           # embedding width of text_cnn / text_lstm (GloVe's 300)
    text_steps: int = 500         # rows that hold tokens: the longest transcript kept (≤ 500)

    @property
    def token_col(self) -> int:
        return self.speech_dim

    @property
    def mocap_cols(self) -> slice:
        return slice(self.speech_dim + 1, self.speech_dim + 1 + self.mocap_dim)

    @property
    def flag_col(self) -> int:
        return self.speech_dim + 1 + self.mocap_dim

    @property
    def width(self) -> int:
        return self.flag_col + 1


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The widths the paper's hyper-parameter search varied (§5.1), at the paper's values."""
    speech_hidden: int = 128      # Speech_Model4's LSTM cells per direction
    text_hidden: int = 512        # Text_Model2's first LSTM (the second has half)
    fusion: int = 256             # the fused model's last hidden layer
    rate: float = 0.2


def pack(speech: np.ndarray, tokens: np.ndarray, mocap: np.ndarray | None, lay: Layout) -> np.ndarray:
    """One utterance's packed array (module docstring); `speech` is cut or zero-padded to 100 frames."""
    if len(tokens) > lay.text_steps:
        raise ValueError(f"{len(tokens)} tokens do not fit the layout's {lay.text_steps} text steps")
    R = max(lay.mocap_chunks, lay.speech_frames, lay.text_steps)
    x = np.zeros((R, lay.width), np.float32)
    s = np.asarray(speech, np.float32)[:lay.speech_frames]
    x[:len(s), :lay.speech_dim] = s
    x[:len(tokens), lay.token_col] = tokens
    if mocap is not None:
        x[:lay.mocap_chunks, lay.mocap_cols] = mocap
        x[0, lay.flag_col] = 1.0
    return x


def _keys(key, n):
    return [None] * n if key is None else list(jax.random.split(key, n))


def _lstm_stack(key, dims: list[int], bidirectional=False) -> list:
    ks = jax.random.split(key, len(dims) - 1)
    if bidirectional:
        return [L.init_blstm(k, dims[i] * (1 if i == 0 else 2), dims[i + 1])[0] for i, k in enumerate(ks)]
    return [L.init_lstm(k, dims[i], dims[i + 1]) for i, k in enumerate(ks)]


def _run_stack(layers, xs, mask, bidirectional=False):
    for p in layers:
        xs = L.blstm([p], xs, mask) if bidirectional else L.lstm(p, xs, mask)
    return xs


def _conv2d_init(key, in_ch=1) -> list:
    out, c = [], in_ch
    for k, f in zip(jax.random.split(key, len(CONV_FILTERS)), CONV_FILTERS):
        lim = (6.0 / (9 * c + f)) ** 0.5
        out.append({"w": jax.random.uniform(k, (3, 3, c, f), jnp.float32, -lim, lim),
                    "b": jnp.zeros((f,), jnp.float32)})
        c = f
    return out


def _conv2d_out(h: int, w: int) -> int:
    for _ in CONV_FILTERS:
        h, w = -(-h // 2), -(-w // 2)
    return h * w * CONV_FILTERS[-1]


def _conv2d(layers, img, keys, rate):
    """``img (..., H, W)`` -> flattened features after the five stride-2 convolutions."""
    lead = img.shape[:-2]
    y = img.reshape((-1,) + img.shape[-2:] + (1,))
    for p, k in zip(layers, keys):
        y = jax.lax.conv_general_dilated(y, p["w"], (2, 2), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        y = dropout(k, jax.nn.relu(y + p["b"].reshape(1, 1, 1, -1)), rate)
    return y.reshape(lead + (-1,))


def _conv1d(p, xs):
    lead = xs.shape[:-2]
    y = jax.lax.conv_general_dilated(xs.reshape((-1,) + xs.shape[-2:]), p["w"], (1,), "SAME",
                                     dimension_numbers=("NWC", "WIO", "NWC"))
    return y.reshape(lead + y.shape[-2:]) + p["b"].reshape((1,) * (len(lead) + 1) + (-1,))


def _last(h, mask):
    """The state at each sequence's last valid step: ``(..., T, H) -> (..., H)``."""
    return P.final_frame(h, mask, bidirectional=False)


def init_branch(key, kind: str, lay: Layout, K: int, *, vocab: int = 2, sizes: Sizes = Sizes(),
                embeddings: np.ndarray | None = None) -> dict:
    """Parameters of one model of `MODELS` other than ``fusion`` (`init` covers every one)."""
    k = list(jax.random.split(key, 8))
    S, T = lay.speech_dim, lay.text_dim
    if kind == "speech_mlp":
        d = [lay.speech_frames * S, 1024, 512, 256]
        return {"mlp": [init_dense(k[i], d[i], d[i + 1]) for i in range(3)], "out": init_dense(k[4], 256, K)}
    if kind in ("speech_lstm", "face_lstm", "text_lstm", "text_lstm128"):
        first = {"speech_lstm": S, "face_lstm": 165}.get(kind, T if kind == "text_lstm" else 128)
        hid = sizes.text_hidden if kind.startswith("text") else 512
        p = {"lstm": _lstm_stack(k[0], [first, hid, hid // 2]), "hidden": init_dense(k[1], hid // 2, 512),
             "out": init_dense(k[2], 512, K)}
        if kind.startswith("text"):
            p["embed"] = (jnp.asarray(embeddings) if embeddings is not None and kind == "text_lstm"
                          else 0.1 * jax.random.normal(k[3], (vocab, first)))
        return p
    if kind in ("speech_att", "speech_batt"):
        H = sizes.speech_hidden
        bi = kind == "speech_batt"
        return {"lstm": _lstm_stack(k[0], [S, H, H], bidirectional=bi),
                "att": P.init_attention(k[1], (2 if bi else 1) * H),
                "hidden": init_dense(k[2], (2 if bi else 1) * H, 512), "out": init_dense(k[3], 512, K)}
    if kind == "text_cnn":
        convs, c = [], T
        for i, f in enumerate((256, 128, 64, 32)):
            lim = (6.0 / (3 * c + f)) ** 0.5
            convs.append({"w": jax.random.uniform(k[i], (3, c, f), jnp.float32, -lim, lim),
                          "b": jnp.zeros((f,), jnp.float32)})
            c = f
        return {"embed": jnp.asarray(embeddings) if embeddings is not None
                else 0.1 * jax.random.normal(k[4], (vocab, T)),
                "convs": convs, "hidden": init_dense(k[5], 32, 256), "out": init_dense(k[6], 256, K)}
    if kind in ("head_lstm", "hand_lstm"):
        d = 6 if kind == "head_lstm" else 18
        return {"lstm": _lstm_stack(k[0], [d, 256]), "hidden": init_dense(k[1], 256, 256),
                "out": init_dense(k[2], 256, K)}
    if kind in ("head_dense", "hand_dense"):
        d = 6 if kind == "head_dense" else 18
        return {"hidden": init_dense(k[0], lay.mocap_chunks * d, 256), "out": init_dense(k[1], 256, K)}
    if kind in ("face_conv", "mocap_conv"):
        w = 165 if kind == "face_conv" else lay.mocap_dim
        return {"convs": _conv2d_init(k[0]), "hidden": init_dense(k[1], _conv2d_out(lay.mocap_chunks, w), 256),
                "out": init_dense(k[2], 256, K)}
    raise ValueError(f"model {kind!r}: use one of {', '.join(MODELS)}")


FUSED = ("speech_batt", "text_lstm", "mocap_conv")


def init(key, kind: str, lay: Layout, K: int, *, vocab: int = 2, sizes: Sizes = Sizes(),
         embeddings: np.ndarray | None = None) -> dict:
    if kind != "fusion":
        return init_branch(key, kind, lay, K, vocab=vocab, sizes=sizes, embeddings=embeddings)
    ks = jax.random.split(key, 5)
    branches = {b: init_branch(k, b, lay, K, vocab=vocab, sizes=sizes, embeddings=embeddings)
                for b, k in zip(FUSED, ks)}
    width = sum(int(p["out"]["w"].shape[0]) for p in branches.values()) + 1     # + the MoCap flag
    return {"branches": branches, "hidden": init_dense(ks[3], width, sizes.fusion),
            "out": init_dense(ks[4], sizes.fusion, K)}


def _branch(kind: str, p: dict, xs, mask, lay: Layout, keys, rate):
    """The branch's last hidden layer (..., U)."""
    S = lay.speech_dim
    speech = xs[..., :lay.speech_frames, :S]
    full = jnp.ones(speech.shape[:-1], bool)              # the paper's models read the padding
    mocap = xs[..., :lay.mocap_chunks, lay.mocap_cols]
    mfull = jnp.ones(mocap.shape[:-1], bool)
    tokens = xs[..., :lay.text_steps, lay.token_col].astype(jnp.int32)   # the text's own steps
    tmask = tokens > 0
    if kind == "speech_mlp":
        h = speech.reshape(speech.shape[:-2] + (-1,))
        for q, k in zip(p["mlp"], keys):
            h = dropout(k, relu_dense(q, h), rate)
        return h
    if kind in ("speech_lstm", "face_lstm", "text_lstm", "text_lstm128", "head_lstm", "hand_lstm"):
        if kind.startswith("text"):
            seq, m = p["embed"][tokens], tmask
        elif kind == "speech_lstm":
            seq, m = speech, full
        else:
            seq, m = mocap[..., {"face_lstm": FACE, "head_lstm": HEAD, "hand_lstm": HAND}[kind]], mfull
        h = _last(_run_stack(p["lstm"], seq, m), m)
        return dropout(keys[0], relu_dense(p["hidden"], dropout(keys[1], h, rate)), rate)
    if kind in ("speech_att", "speech_batt"):
        h = _run_stack(p["lstm"], speech, full, bidirectional=kind == "speech_batt")
        z, _ = P.attention(p["att"], h, full)
        return dropout(keys[0], relu_dense(p["hidden"], dropout(keys[1], z, rate)), rate)
    if kind == "text_cnn":
        h = p["embed"][tokens]
        for q, k in zip(p["convs"], keys):
            h = dropout(k, jax.nn.relu(_conv1d(q, h)), rate)
        pooled = jnp.max(jnp.where(tmask[..., None], h, -1e9), axis=-2)      # finite: no NaN
        pooled = jnp.where(tmask.any(-1, keepdims=True), pooled, 0.0)        # padded batch rows
        return dropout(keys[4], relu_dense(p["hidden"], pooled), rate)
    if kind in ("head_dense", "hand_dense"):
        part = mocap[..., HEAD if kind == "head_dense" else HAND]
        return dropout(keys[0], relu_dense(p["hidden"], part.reshape(part.shape[:-2] + (-1,))), rate)
    if kind in ("face_conv", "mocap_conv"):
        img = mocap[..., FACE] if kind == "face_conv" else mocap
        return dropout(keys[5], relu_dense(p["hidden"], _conv2d(p["convs"], img, keys[:5], rate)), rate)
    raise ValueError(f"model {kind!r}: use one of {', '.join(MODELS)}")


@functools.lru_cache(maxsize=None)
def model_fn(kind: str, lay: Layout = Layout(), rate: float = 0.2):
    """``apply(params, xs, mask, key=None) -> (logits (..., K), {"penultimate"})`` of `kind`."""
    if kind not in MODELS:
        raise ValueError(f"model {kind!r}: use one of {', '.join(MODELS)}")

    def apply(params, xs, mask, key=None):
        if kind != "fusion":
            z = _branch(kind, params, xs, mask, lay, _keys(key, 6), rate)
            return dense(params["out"], z), {"penultimate": z}
        ks = _keys(key, 4)
        zs = [_branch(b, params["branches"][b], xs, mask, lay, _keys(k, 6), rate)
              for b, k in zip(FUSED, ks)]
        flag = xs[..., 0, lay.flag_col][..., None]
        z = dropout(ks[3], relu_dense(params["hidden"], jnp.concatenate(zs + [flag], -1)), rate)
        return dense(params["out"], z), {"penultimate": z}
    apply.__name__ = f"tripathi_{kind}_{rate}"
    return apply
