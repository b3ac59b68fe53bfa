"""Graph passes of the code generator: rewrites of a :class:`~edgekit.firmware_export.graph.Graph`
before lowering.

Each pass is a module named after its one public function (import it from
its module, e.g. ``from edgekit.firmware_export.passes.fuse_lif import fuse_lif``):

- :mod:`~edgekit.firmware_export.passes.fuse_lif`: each unrolled int8 LIF
  step (about ten ADD/MUL ops) becomes one ``EK_LIF`` op (applied by
  :func:`edgekit.firmware_export.codegen.generate`).
- :mod:`~edgekit.firmware_export.passes.lif_layer`: the ``EK_LIF`` steps of
  one whole layer, the CONCATENATIONs joining their spikes and the
  scalar-constant stages making their currents (the input clip) become one
  table-driven ``EK_LIF_LAYER`` op (applied after ``fuse_lif``).
- :mod:`~edgekit.firmware_export.passes.lif_bn`: a LIF layer whose current
  is an ADD of two activations followed by per-channel ADD/MUL stages (a
  batch normalization) becomes one ``EK_LIF_BN`` op with them (applied
  after ``lif_layer``).
- :mod:`~edgekit.firmware_export.passes.spike_sparse`: each FULLY_CONNECTED
  or 1x1 CONV_2D whose input is proven a spike tensor (two int8 codes)
  becomes an event-driven ``EK_SPIKE_FC`` op, a one-column DEPTHWISE_CONV_2D
  over time an ``EK_SPIKE_DW`` op (applied after ``lif_bn``).
- :mod:`~edgekit.firmware_export.passes.spike_pad`: the causal PAD in front
  of an ``EK_SPIKE_DW`` op is folded into it (applied after ``spike_sparse``).
- :mod:`~edgekit.firmware_export.passes.code_add`: an ADD with one input of
  a few codes (spikes, or a sum of two spike tensors) becomes a two-table
  ``EK_CODE_ADD`` op (applied last).
"""
