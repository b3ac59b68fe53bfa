"""edgekit: tiny audio models from training to a Cortex-M microcontroller."""

from edgekit.errors import EdgekitError

__all__ = ["EdgekitError", "__version__"]
__version__ = "0.1.0"
