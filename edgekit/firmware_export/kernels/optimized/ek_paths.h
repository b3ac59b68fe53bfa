/* edgekit: which paths the optimized kernels compile.
 *
 * This default compiles every path: it serves kernels built on their own
 * (e.g. by unit tests that compile the .c files of kernels/optimized
 * directly).  The
 * code generator does not copy it: it writes an ek_paths.h of its own
 * (templates/ek_paths.h.j2) that sets EKOPT_PATHS_ALL to 0 and lists, per
 * kernel path, whether a layer of the model takes it (on cores with the
 * DSP extension and on cores without), so that paths no layer takes are
 * neither compiled nor linked (see edgekit/firmware_export/kernel_paths.py).
 */
#ifndef EK_PATHS_H
#define EK_PATHS_H

#define EKOPT_PATHS_ALL 1

#endif /* EK_PATHS_H */
