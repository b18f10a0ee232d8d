/*
 * Quantized weights, AVX-512 VNNI: the panel kernels of quant_body.h with
 * vpdpbusd. Flags: the avx512 folder's and -mavx512vnni (only run where
 * cpuid has it: quant.c chooses). Twin: ref/quant.c.
 */
#define QUANT_VNNI 1
#define QUANT_NAME(f) tfm__avx512_vnni_##f
#define QUANT_LINKAGE 
#include "quant_body.h"
