/* edgekit: TRANSPOSE and STRIDED_SLICE: a strided gather over up to 6 dims
 * (the loop is in ek_strided_copy_ref.h).  The lowering merges dims that
 * are contiguous in the input, so a slice of whole rows is one run. */
#include "ek_kernels.h"
#include "ek_strided_copy_ref.h"

void ek_strided_copy(const ek_strided_copy_params *p, const void *in, void *out) {
    ek_strided_copy_ref(p, in, out);
}
