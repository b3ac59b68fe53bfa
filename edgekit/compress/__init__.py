"""Model compression that pays off on the device.

* :mod:`edgekit.compress.structured` / :func:`edgekit.compress.prune.prune`:
  structured channel pruning (whole conv filters / dense units, L1 or L2
  magnitude, parameter budget, cubic gradual schedule with fine-tuning):
  the int8 model really gets smaller and faster.
* :func:`edgekit.compress.prune.prune_unstructured`: magnitude sparsity,
  reported honestly (a dense int8 model does not shrink).
* :func:`edgekit.compress.distill.distill`: teacher -> student with a
  hard-label baseline trained from the same weights, seed and epochs.
* :func:`edgekit.compress.measure.measure`: params, MACs, int8 weight flash
  bytes (generated C) and accuracy of a Keras model.

Importing this package does not import TensorFlow.
"""
