"""The sequential-Jacobian context analysis (Graves 2008; Wöllmer et al. 2012 §5.2), statistics
over folds and the figures.

    from emojax.analysis import sequential_jacobian, sensitivity, context_counts

Importing this stays light: `stats` imports scipy and `plots` matplotlib only inside the functions
that use them.
"""
from emojax.analysis import context as context
from emojax.analysis import jacobian as jacobian
from emojax.analysis import plots as plots
from emojax.analysis import stats as stats
from emojax.analysis.context import context_counts as context_counts
from emojax.analysis.context import context_records as context_records
from emojax.analysis.context import context_vs_position as context_vs_position
from emojax.analysis.context import context_vs_threshold as context_vs_threshold
from emojax.analysis.context import decay_rate as decay_rate
from emojax.analysis.context import sensitivity_profile as sensitivity_profile
from emojax.analysis.jacobian import batched_sequential_jacobian as batched_sequential_jacobian
from emojax.analysis.jacobian import normalise_by_diagonal as normalise_by_diagonal
from emojax.analysis.jacobian import sensitivity as sensitivity
from emojax.analysis.jacobian import sequential_jacobian as sequential_jacobian
from emojax.analysis.plots import fig1_jacobian as fig1_jacobian
from emojax.analysis.plots import fig2_context_position as fig2_context_position
from emojax.analysis.plots import fig3_context_threshold as fig3_context_threshold
from emojax.analysis.stats import mean_std as mean_std
from emojax.analysis.stats import paired_test as paired_test

__all__ = ["context", "jacobian", "plots", "stats",
           "context_counts", "context_records", "context_vs_position", "context_vs_threshold",
           "decay_rate", "sensitivity_profile",
           "batched_sequential_jacobian", "normalise_by_diagonal", "sensitivity",
           "sequential_jacobian",
           "fig1_jacobian", "fig2_context_position", "fig3_context_threshold",
           "mean_std", "paired_test"]
