/*
 * Registration of the neon kernels: the dispatch table starts as a copy of
 * the reference table and each file of this folder overrides its slots.
 */
#include "../kernels.h"
#include "transformer.h"

void tfm__kernels_init_neon(tfm__kernels *k) {
    tfm__neon_init_gemm(k);
    tfm__neon_init_vec(k);
    tfm__neon_init_quant(k, (tfm_cpu_features() & TFM_CPU_ASIMDDP) != 0);
}
