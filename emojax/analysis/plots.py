"""Figures of the context analysis (Wöllmer et al. 2012 Figs. 1–3, and ours beyond the paper)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

STYLE = {"ordered": ("C0", "-"), "shuffled": ("C1", "--"), "oracle": ("k", ":"),
         "oracle_shuffled": ("0.5", "-.")}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def fig1_jacobian(J: np.ndarray, path: Path, *, task: str, t: int = 15, theta: float = 0.03) -> None:
    """J (T, K, T, F) of one sequence: (a) derivatives of one output at step t (the class whose
    output is most sensitive; a sum over softmax classes would cancel, Σ_k y_k = 1) for every input
    feature and step, (b) their absolute values, (c) Σ_k Σ_i |J| normalised at t' = t."""
    plt = _plt()
    T = J.shape[0]
    t = min(t, T - 1)
    k = int(np.abs(J[t]).sum(axis=(1, 2)).argmax())
    D = J[t, k]                                                 # (T, F): ∂y_k^t/∂x_i^t'
    S = np.abs(J[t]).sum(axis=(0, 2))                           # (T,)
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    lim = np.abs(D).max() or 1.0
    ext = (0.5, T + 0.5, -0.5, D.shape[1] - 0.5)                # input steps numbered 1..T
    im = ax[0].imshow(D.T, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, origin="lower",
                      extent=ext)
    ax[0].set(title=f"(a) derivatives of output {k} at t = {t + 1}", xlabel="input step t'", ylabel="input feature i")
    fig.colorbar(im, ax=ax[0])
    im = ax[1].imshow(np.abs(D).T, aspect="auto", cmap="magma", origin="lower", extent=ext)
    ax[1].set(title="(b) absolute values", xlabel="input step t'")
    fig.colorbar(im, ax=ax[1])
    ax[2].bar(np.arange(1, T + 1), S / S[t], color="C0")
    ax[2].axhline(theta, color="k", ls=":", lw=1, label=f"θ = {100 * theta:g} %")
    ax[2].set(title="(c) summed over inputs and outputs, / value at t", xlabel="input step t'",
              ylabel="relative sensitivity")
    ax[2].legend()
    fig.suptitle(f"Sequential Jacobian, one {T}-utterance test sequence ({task}, ordered BLSTM)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig2_context_position(records, path: Path, *, task: str, theta: float = 0.03,
                          max_position: int = 40) -> None:
    """Mean relevant past/future utterances vs position, one panel per condition (Fig. 2 a, b);
    shaded: the records' 95 % interval where they carry one."""
    plt = _plt()
    conds = [c for c in ("ordered", "shuffled", "oracle", "oracle_shuffled")
             if any(r["condition"] == c and r["task"] == task for r in records)]
    fig, axes = plt.subplots(1, len(conds), figsize=(4.5 * len(conds), 3.6), sharey=True,
                             squeeze=False)
    for ax, cond in zip(axes[0], conds):
        rs = sorted((r for r in records if r["task"] == task and r["condition"] == cond
                     and r["theta"] == theta and isinstance(r["position"], int)
                     and r["position"] < max_position), key=lambda r: r["position"])
        pos = [r["position"] + 1 for r in rs]
        for side, style in (("past", "C0-o"), ("future", "C3-s")):
            ax.plot(pos, [r[side] for r in rs], style, ms=3, label=side)
            if rs and all(f"{side}_low" in r for r in rs) and not cond.startswith("oracle"):
                ax.fill_between(pos, [r[f"{side}_low"] for r in rs], [r[f"{side}_high"] for r in rs],
                                color=style[:2], alpha=0.15, lw=0)
        ax.set(title=cond, xlabel="utterance number in the sequence")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"relevant utterances (θ = {theta:.0%})")
    axes[0][0].legend()
    fig.suptitle(f"Context vs position ({task})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig3_context_threshold(records, path: Path, *, position: str = "all") -> None:
    """Mean relevant past utterances vs threshold, one panel per estimator (records' `estimator`,
    "paper" when absent); one colour per task, line style per condition; shaded: the records'
    interval (``past_low``..``past_high``) where they carry one. The oracle is drawn in every panel."""
    plt = _plt()
    est_of = lambda r: r.get("estimator", "paper")  # noqa: E731
    tasks = list(dict.fromkeys(r["task"] for r in records))
    ests = list(dict.fromkeys(est_of(r) for r in records if not r["condition"].startswith("oracle")))
    ests = ests or ["paper"]
    fig, axes = plt.subplots(1, len(ests), figsize=(6.5 * len(ests), 4.2), squeeze=False,
                             sharey=True)
    for ax, est in zip(axes[0], ests):
        for i, task in enumerate(tasks):
            for cond, (_, ls) in STYLE.items():
                oracle = cond.startswith("oracle")
                rs = sorted((r for r in records if r["task"] == task and r["condition"] == cond
                             and r["position"] == position and (oracle or est_of(r) == est)),
                            key=lambda r: r["theta"])
                if not rs or (oracle and i > 0):   # the oracle is task-independent: draw it once
                    continue
                x = [100 * r["theta"] for r in rs]
                color = STYLE[cond][0] if oracle else f"C{i}"
                ax.plot(x, [r["past"] for r in rs], ls=ls, color=color,
                        label=cond if oracle else f"{task} {cond}", marker=None if oracle else ".")
                if all("past_low" in r for r in rs) and not oracle:
                    ax.fill_between(x, [r["past_low"] for r in rs], [r["past_high"] for r in rs],
                                    color=color, alpha=0.15, lw=0)
        ax.set(xlabel="sensitivity threshold [%]", title=f"estimator: {est} (steps: {position})")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("relevant past utterances (solid: ordered, dashed: shuffled)")
    axes[0][-1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confusion_matrix(M: np.ndarray, names, path: Path, *, title: str = "") -> None:
    """A confusion matrix (rows: truth, columns: prediction) as row percentages, counts beside."""
    plt = _plt()
    M = np.asarray(M, float)
    rows = M / np.maximum(M.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.1 * len(names) + 1.5, 1.0 * len(names) + 1))
    im = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(rows):
        ax.text(j, i, f"{100 * v:.0f}%\n({int(M[i, j])})", ha="center", va="center", fontsize=8,
                color="white" if v > 0.6 else "black")
    ax.set(xticks=range(len(names)), xticklabels=names, yticks=range(len(names)),
           yticklabels=names, xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
