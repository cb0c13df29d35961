"""Probing a trained network through the gradient of its output with respect to its input
(``Network.input_gradient``), one module per idea:

- ``subjects``    the network probed and the test images it is judged on (a stored run, the default model)
- ``dreams``      gradient ascent on the input: the picture each class's score likes best
- ``adversarial`` the smallest L-infinity change (iterative FGSM) that changes the answer
- ``robustness``  test accuracy under Gaussian noise and blur of growing strength
- ``surgery``     switching units of hidden layers off; ranking units by the accuracy lost without them
- ``morph``       the straight path between two digits and where the answer changes along it
- ``settings``    reading each probe's settings from JSON, with messages naming the field at fault

No web code here: the server's ``/api/.../dreams``, ``/api/adversarial`` and ``/api/probe/...`` and the
command line ``python -m nnengine.labs probe`` are thin adapters over these functions.
"""
