/*
 * Registration of the avx512 kernels: the dispatch table starts as a copy of
 * the reference table and each file of this folder overrides its slots.
 */
#include "../kernels.h"

void tfm__kernels_init_avx512(tfm__kernels *k) {
    tfm__avx512_init_gemm(k);
    tfm__avx512_init_vec(k);
}
