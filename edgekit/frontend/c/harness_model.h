/*
 * model.h of a measurement firmware: the front end behind the model API of
 * edgekit's emulator harness (edgekit/emulator/firmware/edgekit_harness.c).
 *
 * One "case" = one stride of int16 PCM (EDGEKIT_INPUT_BYTES); the output is
 * the feature frame that stride completed (EK_FRONTEND_NUM_CHANNELS int8),
 * or all -128 when it completed none (only before the first window is full).
 */
#ifndef EDGEKIT_MODEL_H
#define EDGEKIT_MODEL_H

#include "frontend.h"

#define EDGEKIT_NUM_OPS 1
#define EDGEKIT_INPUT_BYTES (EK_FRONTEND_STRIDE * 2u)
#define EDGEKIT_OUTPUT_BYTES (EK_FRONTEND_NUM_CHANNELS)

extern const char *const edgekit_op_names[EDGEKIT_NUM_OPS];

int edgekit_invoke(const void *input, void *output);
void edgekit_reset(void);
void edgekit_profile_begin(int op_index);
void edgekit_profile_end(int op_index);

#endif /* EDGEKIT_MODEL_H */
