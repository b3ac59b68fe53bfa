"""edgekit.frontend: a causal, streaming, fixed-point audio front end in C99.

int16 PCM in, int8 feature frames out: Hann window, fixed-point real FFT,
power spectrum, mel filterbank, square root, noise reduction (spectral
subtraction), PCAN gain control, log, int8.  The C (``c/frontend*.[ch]``,
:data:`edgekit.frontend.codegen.C_SOURCES`) is package data; its tables are
computed in Python and emitted by templates.

Typical use::

    from edgekit.frontend import FrontendConfig, HostFrontend, generate_c
    cfg = FrontendConfig.fsdd()
    feats = HostFrontend(cfg).features(pcm_int16)      # (frames, 40) int8
    generate_c(cfg, "firmware/src")                     # the same C for a device

Importing this package has no side effects (no compilation until used).
"""

from edgekit.frontend.codegen import generate_c
from edgekit.frontend.config import FORMAT, FrontendConfig
from edgekit.frontend.device import FrontendMeasurement, build_frontend_firmware, measure_frontend
from edgekit.frontend.host import HostFrontend, build_library, cache_dir

__all__ = ["FORMAT", "FrontendConfig", "FrontendMeasurement", "HostFrontend",
           "build_frontend_firmware", "build_library", "cache_dir", "generate_c",
           "measure_frontend"]
