/*
 * Quantized weights, AVX-VNNI: the panel kernels of quant_body.h with the
 * VEX vpdpbusd. Flags: the avx2 folder's and -mavxvnni (only run where cpuid
 * has it: quant.c chooses). Twin: ref/quant.c.
 */
#define QUANT_VNNI 1
#define QUANT_NAME(f) tfm__avx2_vnni_##f
#define QUANT_LINKAGE
#include "quant_body.h"
