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
from emojax.nn.pooling import STATS as STATS
from emojax.nn.pooling import attention as attention
from emojax.nn.pooling import attention_pool as attention_pool
from emojax.nn.pooling import attention_weights as attention_weights
from emojax.nn.pooling import final_frame as final_frame
from emojax.nn.pooling import init_attention as init_attention
from emojax.nn.pooling import mean_pool as mean_pool
from emojax.nn.pooling import stat_names as stat_names
from emojax.nn.pooling import stats_pool as stats_pool

__all__ = ["lstm", "pooling", "bilstm_layer", "blstm", "init_blstm", "init_lstm", "lstm_cell",
           "zero_state", "mean_pool", "final_frame", "attention_weights", "attention_pool",
           "init_attention", "attention", "STATS", "stats_pool", "stat_names"]
