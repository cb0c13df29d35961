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

``LABS`` lists the pages (slug, title, one-line description) in the book's order. A lab whose
settings are not an experiment of the book (any network's gradient check, a look inside any run) says
``"book_settings": False``: its page offers "Defaults", not "Book settings".
"""
from __future__ import annotations

LABS = [
    {"slug": "paths", "section": "6.1", "title": "Optimizer paths",
     "summary": "Watch SGD, Momentum, AdaGrad, Adam (or any of 17 optimizers) walk down f(x, y) = x²/20 + y² "
                "and other 2-D functions, step by step."},
    {"slug": "optimizers", "section": "6.1.8", "title": "Optimizers on MNIST",
     "summary": "Train the same 784-100x4-10 network with several optimizers and overlay their loss curves."},
    {"slug": "histograms", "section": "6.2.2", "title": "Activation histograms",
     "summary": "Per-layer activations of a 5-layer random network: saturation with std 1, lost expressiveness "
                "with std 0.01, healthy spread with Xavier and He."},
    {"slug": "init", "section": "6.2.4", "title": "Weight initialisation on MNIST",
     "summary": "Std 0.01 vs Xavier vs He on a 784-100x4-10 ReLU network: which one learns at all?"},
    {"slug": "batchnorm", "section": "6.3", "title": "Batch normalisation",
     "summary": "16 weight scales, with and without batch norm: 32 runs on a grid of small charts."},
    {"slug": "overfitting", "section": "6.4", "title": "Overfitting, weight decay and dropout",
     "summary": "300 samples and 7 layers overfit; weight decay 0.1, dropout 0.2 and both narrow the train-test gap."},
    {"slug": "search", "section": "6.5", "title": "Hyperparameter search",
     "summary": "Random log-uniform search of learning rate and weight decay on a validation split, "
                "in parallel worker processes; narrow the ranges to the best and search again."},
    {"slug": "gradcheck", "section": "5.7.3", "title": "Gradient check", "book_settings": False,
     "summary": "Numerical vs backpropagated gradients of any network from the builder, in float64, "
                "with a relative error per parameter."},
    {"slug": "inside", "section": "", "title": "Look inside a run", "book_settings": False,
     "summary": "Per-layer histograms of a finished run's weights and activations, and what its first layer "
                "learned, drawn as 28x28 images."},
]

LAB_SLUGS = tuple(lab["slug"] for lab in LABS)
