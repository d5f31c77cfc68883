"""Pure kernels over parameter pytrees: one sequence in (or any leading batch axes), masks for padding.

    from emojax.nn import blstm, init_blstm, mean_pool

The modules stay importable by name (``from emojax.nn import lstm as L``): the single-direction
``lstm`` function is ``emojax.nn.lstm.lstm``, not re-exported here, so that ``emojax.nn.lstm`` keeps
naming the module.
"""
from emojax.nn import lstm as lstm
from emojax.nn import pooling as pooling
from emojax.nn.lstm import bilstm_layer as bilstm_layer
from emojax.nn.lstm import blstm as blstm
from emojax.nn.lstm import init_blstm as init_blstm
from emojax.nn.lstm import init_lstm as init_lstm
from emojax.nn.lstm import lstm_cell as lstm_cell
from emojax.nn.lstm import zero_state as zero_state
from emojax.nn.pooling import mean_pool as mean_pool

__all__ = ["lstm", "pooling", "bilstm_layer", "blstm", "init_blstm", "init_lstm", "lstm_cell",
           "zero_state", "mean_pool"]
