"""Passes over int8 TFLite flatbuffers: quantisation edits after the converter.

Each pass is a module named after its one public function (import the
function from its module, e.g.
``from edgekit.quantize.passes.align_to_window import align_to_window``):

- :mod:`~edgekit.quantize.passes.unify_lif_quantization`: one quantisation
  per LIF tensor family of a spiking window model (applied by
  :func:`edgekit.quantize.convert.quantize_model` to every model with LIF
  layers);
- :mod:`~edgekit.quantize.passes.align_to_window`: the int8 streaming model
  takes the int8 window model's quantisation (applied by
  :func:`edgekit.quantize.streaming.quantize_streaming_int8`);
- :mod:`~edgekit.quantize.passes.fix_state_quantization`: each streaming
  ``state_i`` output quantised like its input (idem);
- :mod:`~edgekit.quantize.passes.graph`: the flatbuffer access they share.
"""
