"""Classical models on the ``classical`` runtime: gradient-boosted trees for tables,
TF-IDF with a linear model for text, a linear model on downsampled pixels for images.

They are fitted in one call (no epochs), saved as JSON plus safetensors arrays or the
library's own text format, and explain themselves exactly (``contributions``).
A plugin adds its own (education's per-skill history model) by returning an
``Estimator`` from an architecture's builder on the ``classical`` runtime.
"""

from aiaas.classical.base import Estimator, Selection
from aiaas.classical.linear import fit_linear, linear_logits

__all__ = ["Estimator", "Selection", "fit_linear", "linear_logits"]
