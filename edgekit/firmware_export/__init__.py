"""edgekit.firmware_export: TFLite -> graph -> memory plan -> generated C.

The graph this package works on never imports TensorFlow: the .tflite file
is read once, by :func:`read_tflite`.
"""

from edgekit.firmware_export.c_array import write_c_array
from edgekit.firmware_export.codegen import Export, generate, lower_graph
from edgekit.firmware_export.graph import Graph, Operator, Tensor
from edgekit.firmware_export.planner import MemoryPlan, plan_memory
from edgekit.firmware_export.schedule import plan_schedule
from edgekit.firmware_export.tflite_reader import read_tflite

__all__ = ["Export", "Graph", "MemoryPlan", "Operator", "Tensor", "generate", "lower_graph",
           "plan_memory", "plan_schedule", "read_tflite", "write_c_array"]
