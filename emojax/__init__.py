"""emojax: emotion recognition with recurrent networks in JAX.

Reproductions of Wöllmer et al. 2012 (utterance-level BLSTM context) and peers, built on pure-function
kernels (`emojax.nn`), with the sequential-Jacobian context analysis in `emojax.analysis`.
"""
__version__ = "0.1.0"
