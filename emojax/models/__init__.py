"""Models: compositions of the `emojax.nn` kernels, one module each, every ``apply`` returning
``(outputs, aux)``.

    from emojax.models import woellmer, pooled
    params = woellmer.init(key, in_dim, n_classes, hidden=128)
    logits, aux = woellmer.apply(params, xs, mask)

- `woellmer`: Wöllmer et al. 2012, a BLSTM with a softmax per step (per utterance).
- `pooled`: Mirsamadi et al. 2017's baseline, a BLSTM mean-pooled over the valid frames, one label.
"""
from emojax.models import pooled as pooled
from emojax.models import woellmer as woellmer

__all__ = ["pooled", "woellmer"]
