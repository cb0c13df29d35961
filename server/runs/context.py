"""The multiprocessing context the training processes start from."""

import multiprocessing


def multiprocessing_context():
    """forkserver where there is one (a clean, preloaded parent: children start in
    milliseconds and never inherit the server's threads), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        # numpy.random is imported lazily by NumPy, so without it every run would import it.
        context.set_forkserver_preload(["numpy.random", "nnengine.trainer", "server.runs.child"])
    return context
