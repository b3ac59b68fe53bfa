"""edgekit.verify: generated C checked against tflite_micro, on the host and in QEMU.

Typical use::

    from edgekit.verify import check_inputs, verify
    inputs = check_inputs(graph, real, 50)
    v = verify(tflite, "build/firmware", "cortex-m4", inputs)
    v.bit_exact, v.qemu.instructions, v.to_dict()

:func:`check_audio` runs raw audio clips through the firmware from sound
(front end + model).  The steps are also callable one by one (:func:`export_c`,
:func:`check_host`, :func:`check_qemu`).  Importing this package has no
side effects.
"""

from edgekit.verify.audio import DEFAULT_QEMU_CLIPS, AudioCheck, audio_clips, check_audio
from edgekit.verify.core import (REFERENCE, Export, HostCheck, QemuCheck, Verification, build_c,
                                 check_host, check_inputs, check_qemu, export_c, tflm_reference,
                                 verify)

__all__ = ["DEFAULT_QEMU_CLIPS", "AudioCheck", "REFERENCE", "Export", "HostCheck", "QemuCheck",
           "Verification", "audio_clips", "build_c", "check_audio", "check_host", "check_inputs", "check_qemu", "export_c", "tflm_reference", "verify"]
