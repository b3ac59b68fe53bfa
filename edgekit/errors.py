"""The one error family raised by the edgekit library.

The library raises only :class:`EdgekitError` (or a subclass) for problems a
user can fix: bad input files, unsupported ops, a missing toolchain.  The CLI
catches it in one place and turns it into a message and exit code 2.
"""


class EdgekitError(Exception):
    """Base class of every error edgekit raises on purpose."""


class DataError(EdgekitError):
    """A dataset or audio file is missing, corrupt or of the wrong kind."""


class ModelError(EdgekitError):
    """A model file (Keras, SavedModel, TFLite, ONNX) cannot be used."""


class TFLiteFormatError(ModelError):
    """A .tflite file is malformed (truncated, bad magic, bad indices...)."""


class UnsupportedOpError(ModelError):
    """The code generator has no kernel for an op (or for its options)."""


class ToolchainError(EdgekitError):
    """The Cortex-M toolchain, host compiler or QEMU is missing or failed."""


class EmulatorError(EdgekitError):
    """The firmware did not run to completion under QEMU (or on the host)."""


class ConfigError(EdgekitError):
    """A recipe, target name or command-line value is invalid."""


class PlanError(EdgekitError):
    """An op order given to the memory planner is not a valid schedule."""
