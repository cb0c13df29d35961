"""The chapter-6 labs: each of the book's experiments as a computation that a page, a JSON endpoint
and the command line (``python -m nnengine.labs``) share.

One module per lab computation:

- ``functions``   the 2-D test functions (the book's x²/20 + y², Rosenbrock, a saddle, Himmelblau)
- ``paths``       optimizer paths on those functions, driven through ``update(params, grads)``
- ``histograms``  per-layer activation histograms of the book's 5-layer random network
- ``experiments`` the run configs of the MNIST labs (optimizers, init, batch norm grid, overfitting, search)
- ``gradcheck_lab`` numerical vs backpropagated gradients of a configured network
- ``inside``      histograms and first-layer images of a finished run's weights
- ``search_lab``  narrowing search ranges to the best trials
- ``registry``    every lab once: its page, its computation on its settings, what it takes and prints

``LABS`` lists the pages (slug, title, one-line description) in the book's order. A lab whose
settings are not an experiment of the book (any network's gradient check, a look inside any run) says
``"book_settings": False``: its page offers "Defaults", not "Book settings".
"""
from __future__ import annotations

from .registry import LAB_SLUGS, LABS, LABS_BY_NAME, run_lab

__all__ = ["LABS", "LAB_SLUGS", "LABS_BY_NAME", "run_lab"]
