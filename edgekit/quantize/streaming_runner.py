"""Run an int8 streaming model hop by hop (or frame by frame) in LiteRT or tflite_micro.

The interpreters come from :mod:`edgekit.reference`; the streaming model
from :func:`edgekit.quantize.streaming.quantize_streaming_int8`.
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import ConfigError
from edgekit.quantize.evaluate import quantize_input

__all__ = ["StreamingRunner"]


class StreamingRunner:
    """Run a streaming int8 TFLite model hop by hop, feeding the states back.

    Parameters
    ----------
    tflite_bytes : bytes
        From :func:`edgekit.quantize.streaming.quantize_streaming_int8`.
    runtime : {"litert", "tflm"}
        Interpreter.
    """

    def __init__(self, tflite_bytes, runtime: str = "litert"):
        from ai_edge_litert import schema_py_generated as schema  # noqa: PLC0415

        if runtime not in ("litert", "tflm"):
            raise ConfigError(f"unknown runtime {runtime!r}; available: litert, tflm")
        self.runtime = runtime
        fb = schema.Model.GetRootAs(bytes(tflite_bytes), 0)
        sig = fb.SignatureDefs(0)
        graph = fb.Subgraphs(sig.SubgraphIndex())
        sub_in = [graph.Inputs(i) for i in range(graph.InputsLength())]
        sub_out = [graph.Outputs(i) for i in range(graph.OutputsLength())]
        self.in_index, self.out_index, self.quant, self.shapes = {}, {}, {}, {}
        for j in range(sig.InputsLength()):
            tm = sig.Inputs(j)
            self.in_index[tm.Name().decode()] = sub_in.index(tm.TensorIndex())
        for j in range(sig.OutputsLength()):
            tm = sig.Outputs(j)
            self.out_index[tm.Name().decode()] = sub_out.index(tm.TensorIndex())
        for name, pos in self.in_index.items():
            t = graph.Tensors(sub_in[pos])
            q = t.Quantization()
            self.quant[name] = (float(q.Scale(0)), int(q.ZeroPoint(0)))
            self.shapes[name] = tuple(t.ShapeAsNumpy())
        self.states = sorted((n for n in self.in_index if n.startswith("state_")),
                             key=lambda s: int(s.split("_")[1]))
        from edgekit.reference import litert_interpreter, tflm_interpreter  # noqa: PLC0415

        if runtime == "litert":
            self.interp = litert_interpreter(tflite_bytes)
            det_in = self.interp.get_input_details()
            det_out = self.interp.get_output_details()
            self._set = lambda pos, v: self.interp.set_tensor(det_in[pos]["index"], v)
            self._get = lambda pos: self.interp.get_tensor(det_out[pos]["index"]).copy()
        else:
            self.interp = tflm_interpreter(tflite_bytes)
            self._set = lambda pos, v: self.interp.set_input(v, pos)
            self._get = lambda pos: np.array(self.interp.get_output(pos)).copy()
        self.reset()

    def reset(self):
        """Zero all states (the quantised code of 0.0) and drop frames collected by :meth:`push`."""
        self._pending = []
        self.state = {}
        # variable tensors (an LSTM's state, kept between calls) start from zero too
        if self.runtime == "tflm":
            self.interp.reset()
        else:
            self.interp.reset_all_variables()
        for n in self.states:
            scale, zp = self.quant[n]
            self.state[n] = np.full(self.shapes[n], np.clip(zp, -128, 127), np.int8)

    def step(self, frame) -> np.ndarray:
        """Feed one hop of float features ``(hop, mels)``; returns int8 scores ``(classes,)``."""
        scale, zp = self.quant["frame"]
        self._set(self.in_index["frame"],
                  quantize_input(np.asarray(frame).reshape(self.shapes["frame"]), scale, zp))
        for n in self.states:
            self._set(self.in_index[n], self.state[n])
        self.interp.invoke()
        for n in self.states:
            self.state[n] = self._get(self.out_index[n]).reshape(self.shapes[n]).astype(np.int8)
        return self._get(self.out_index["scores"]).reshape(-1)

    @property
    def hop(self) -> int:
        """Feature frames per model call (``frame`` is ``(1, hop, features)``)."""
        shape = self.shapes["frame"]
        return int(shape[1]) if len(shape) == 3 else 1

    def push(self, frame):
        """Feed one feature frame ``(features,)``, as an audio front end delivers them.

        Frames are collected until a hop is complete; then the model runs
        (:meth:`step`) and its int8 scores are returned.  Returns None for a
        frame that only completed part of a hop.  The generated C's
        ``edgekit_push_frame`` behaves the same way.
        """
        frame = np.asarray(frame, dtype=np.float32).reshape(-1)
        width = int(np.prod(self.shapes["frame"])) // self.hop
        if frame.size != width:
            raise ConfigError(f"a frame has {width} features (got {frame.size})")
        self._pending.append(frame)
        if len(self._pending) < self.hop:
            return None
        hop, self._pending = np.stack(self._pending), []
        return self.step(hop)

    def run_clip(self, clip, hop: int | None = None) -> np.ndarray:
        """Reset, stream a whole clip ``(frames, mels)`` and return the final int8 scores.

        ``hop`` defaults to the model's (:attr:`hop`); another value is an error.
        """
        if hop is None:
            hop = self.hop
        elif hop != self.hop:
            raise ConfigError(f"hop must be the model's {self.hop} frames (got {hop})")
        self.reset()
        clip = np.asarray(clip)
        out = None
        for t in range(len(clip) // hop):
            out = self.step(clip[t * hop:(t + 1) * hop])
        return out
