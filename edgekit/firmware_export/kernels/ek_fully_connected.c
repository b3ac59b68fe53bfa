/* edgekit: FULLY_CONNECTED, int8 input, int8 weights [units, accum], int32 bias. */
#include "ek_kernels.h"
#include "ek_fully_connected_ref.h"

void ek_fully_connected_s8(const ek_fc_params *p, const int8_t *in, const int8_t *filter,
                           const int32_t *bias, int8_t *out) {
    ek_fully_connected_reference(p, in, filter, bias, out);
}
