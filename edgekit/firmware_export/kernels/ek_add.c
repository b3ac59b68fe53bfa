/* edgekit: ADD (and SUB, with the second input's multiplier negated), int8,
 * with NumPy-style broadcasting. */
#include "ek_kernels.h"
#include "ek_add_ref.h"

void ek_add_s8(const ek_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    ek_add_reference(p, in1, in2, out);
}
