/*
 * Registration of the neon kernels: the dispatch table starts as a copy of
 * the reference table and each file of this folder overrides its slots.
 */
#include "../kernels.h"

void tfm__kernels_init_neon(tfm__kernels *k) {
    tfm__neon_init_gemm(k);
    tfm__neon_init_vec(k);
}
