"""The lab's figures, one file per notebook: ``notebook01.py`` ... ``notebook06.py``, with ``panels.py`` (the
practical's three panels, live and static: notebooks 03, 04) and ``layers.py`` (per-layer figures: 05, 06).
One style for all of them is machinery (``helpers/_machinery/figure_style.py``)."""

from .notebook01 import explore_activation, plot_activations, plot_chain_gradients
from .notebook02 import plot_samples, plot_value_histograms
from .notebook03 import plot_drift
from .notebook05 import (plot_activation_histograms, plot_depth_sweep, plot_layer_norms, plot_loss_by_setting,
                         plot_saturation_by_stage, plot_saturation_during_training)
from .notebook06 import plot_clipping, plot_gain_depth, plot_init_comparison, plot_seed_spread
from .panels import LivePlot, draw_panels, plot_comparison
from .layers import draw_layer_curves, plot_layer_gradients, plot_layer_profiles
