"""Model zoo: architectures, training and size counters.

Importing this package does not import TensorFlow; the builders and the
trainer import it when called.
"""

from edgekit.models.registry import (
    ARCHITECTURES,
    DEFAULT_RECIPE,
    PARAM_BUDGET,
    build_model,
    count_macs,
    count_params,
)
from edgekit.models.dscnn import build_dscnn
from edgekit.models.lmu import build_lmu
from edgekit.models.lmuformer import build_lmuformer, build_spiking_lmuformer
from edgekit.models.spiking import spike_rates
from edgekit.models.tiny_transformer import build_tiny_transformer
from edgekit.models.train import TrainResult, evaluate_float, load_model, save_model, train

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_RECIPE",
    "PARAM_BUDGET",
    "TrainResult",
    "build_dscnn",
    "build_lmu",
    "build_lmuformer",
    "build_spiking_lmuformer",
    "spike_rates",
    "build_model",
    "build_tiny_transformer",
    "count_macs",
    "count_params",
    "evaluate_float",
    "load_model",
    "save_model",
    "train",
]
