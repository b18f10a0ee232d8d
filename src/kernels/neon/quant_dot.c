/*
 * Quantized weights, NEON sdot: the panel kernels of quant_body.h with the
 * dot-product instructions. Flags: +dotprod (only run where the CPU has
 * them: quant.c chooses). Twin: ref/quant.c.
 */
#define QUANT_DOT 1
#define QUANT_NAME(f) tfm__neon_dot_##f
#define QUANT_LINKAGE
#include "quant_body.h"
