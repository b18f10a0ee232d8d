/*
 * Registration of the avx2 kernels: the dispatch table starts as a copy of
 * the reference table and each file of this folder overrides its slots.
 */
#include "../kernels.h"
#include "transformer.h"

void tfm__kernels_init_avx2(tfm__kernels *k) {
    tfm__avx2_init_gemm(k);
    tfm__avx2_init_vec(k);
    tfm__avx2_init_quant(k, (tfm_cpu_features() & TFM_CPU_AVXVNNI) != 0);
}
