/* edgekit: BATCH_MATMUL, int8 x int8 -> int8, both operands activations
 * (the loop: ek_batch_matmul_ref.h). */
#include "ek_kernels.h"
#include "ek_batch_matmul_ref.h"

void ek_batch_matmul_s8(const ek_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                        int8_t *out) {
    ek_batch_matmul_reference(p, lhs, rhs, out);
}
