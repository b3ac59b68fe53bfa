"""Spike rates of the layers edgekit runs event-driven, measured on inputs.

:func:`edgekit.firmware_export.passes.spike_sparse.sparse_layers` names the
layers whose input is a spike tensor; this module runs the model on the
host (LiteRT's reference kernels, every intermediate tensor kept) and counts
the fraction of that input at the spike code.
"""

from __future__ import annotations

import numpy as np

__all__ = ["spike_rates"]


def spike_rates(tflite: bytes, graph, inputs: np.ndarray) -> dict[int, dict]:
    """Per event-driven layer, the fraction of its input elements that spike.

    Parameters
    ----------
    tflite : bytes
        The int8 model.
    graph : Graph
        ``tflite`` as read by :func:`edgekit.firmware_export.read_tflite`.
    inputs : numpy.ndarray
        ``(N, ...)`` int8 codes of the data input (other inputs, e.g. a
        streaming state, are set to their zero point).

    Returns
    -------
    dict
        TFLite op index -> ``{"opcode", "spike_rate"}`` (mean over the
        inputs); empty when no layer reads spikes.
    """
    from edgekit.firmware_export.codegen import data_io  # noqa: PLC0415
    from edgekit.firmware_export.passes.spike_sparse import sparse_layers  # noqa: PLC0415
    from edgekit.reference import litert_interpreter  # noqa: PLC0415

    layers = sparse_layers(graph)
    if not layers:
        return {}
    ip = litert_interpreter(tflite, preserve_all_tensors=True, reference_kernels=True)
    xi = data_io(graph)[0]
    on, total = {i: 0 for i in layers}, {i: 0 for i in layers}
    details = ip.get_input_details()
    for x in np.asarray(inputs):
        for d in details:
            t = graph.tensors[d["index"]]
            v = (np.asarray(x).reshape(d["shape"]) if d["index"] == xi
                 else np.full(d["shape"], t.zp))
            ip.set_tensor(d["index"], v.astype(d["dtype"]))
        ip.invoke()
        for i, layer in layers.items():
            s = ip.get_tensor(layer["input"])
            on[i] += int(np.count_nonzero(s == layer["codes"][1]))
            total[i] += s.size
    return {i: dict(opcode=layers[i]["opcode"], spike_rate=round(on[i] / max(total[i], 1), 4))
            for i in layers}
