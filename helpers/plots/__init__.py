"""The lab's figures, one file per notebook (``notebook01.py`` ... ``notebook07.py``), ``panels.py`` (the practical's
panels, live and static: 03, 04), ``layers.py`` (per layer: 05, 06), ``diagnostics.py`` (05 §5: update ratios and
activations over training); one style, ``_machinery/figure_style.py``."""

from .diagnostics import plot_activation_heatmaps, plot_update_ratios
from .notebook01 import explore_activation, plot_activations, plot_chain_gradients
from .notebook02 import plot_samples, plot_value_histograms
from .notebook05 import (plot_activation_histograms, plot_depth_sweep, plot_layer_norms, plot_loss_by_setting,
                         plot_saturation_by_stage, plot_saturation_during_training)
from .notebook06 import plot_clipping, plot_gain_depth, plot_init_comparison, plot_seed_spread
from .notebook07 import plot_remedy
from .panels import LivePlot, plot_comparison
from .layers import plot_layer_gradients, plot_layer_profiles
