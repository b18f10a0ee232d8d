/*
 * Kernel selection: start from the scalar reference and take the best table
 * the CPU supports, once per process. TFM_ARCH=ref|avx2|avx512|neon forces a
 * table (an unknown or unsupported name falls back to the automatic choice);
 * "avx512-novnni", "avx2-novnni" and "neon-nodot" are those tables without
 * the int8 dot-product kernels.
 */
#include "kernels.h"
#include "../core/internal.h"
#include "../core/once.h"

#include <stdlib.h>
#include <string.h>

// Tables built once: a copy of ref with each ISA's slots replaced.
// Each ISA also has a table without its int8 dot-product kernels
// ("avx512-novnni", "avx2-novnni", "neon-nodot": what CPUs without them
// run), for tests and TFM_ARCH.
#ifdef TFM_HAVE_AVX2
static tfm__kernels g_avx2, g_avx2_nodot;
#endif
#ifdef TFM_HAVE_AVX512
static tfm__kernels g_avx512, g_avx512_nodot;
#endif
#ifdef TFM_HAVE_NEON
static tfm__kernels g_neon, g_neon_nodot;
#endif
static tfm__once_t g_tables_once = TFM__ONCE_INIT;

static void build_tables(void) {
#ifdef TFM_HAVE_AVX2
    g_avx2 = tfm__kernels_ref;
    g_avx2.name = "avx2";
    tfm__kernels_init_avx2(&g_avx2);
    g_avx2_nodot = g_avx2;
    g_avx2_nodot.name = "avx2-novnni";
    tfm__avx2_init_quant(&g_avx2_nodot, 0);
#endif
#ifdef TFM_HAVE_AVX512
    g_avx512 = tfm__kernels_ref;
    g_avx512.name = "avx512";
    tfm__kernels_init_avx512(&g_avx512);
    g_avx512_nodot = g_avx512;
    g_avx512_nodot.name = "avx512-novnni";
    tfm__avx512_init_quant(&g_avx512_nodot, 0);
#endif
#ifdef TFM_HAVE_NEON
    g_neon = tfm__kernels_ref;
    g_neon.name = "neon";
    tfm__kernels_init_neon(&g_neon);
    g_neon_nodot = g_neon;
    g_neon_nodot.name = "neon-nodot";
    tfm__neon_init_quant(&g_neon_nodot, 0);
#endif
}

const tfm__kernels *tfm__kernels_get(const char *name) {
    uint32_t f = tfm_cpu_features();
    (void)f;
    if (!name) return NULL;
    tfm__call_once(&g_tables_once, build_tables);
    if (strcmp(name, "ref") == 0) return &tfm__kernels_ref;
#ifdef TFM_HAVE_AVX2
    if (strcmp(name, "avx2") == 0 || strcmp(name, "avx2-novnni") == 0)
        return (f & TFM_CPU_AVX2) && (f & TFM_CPU_FMA) && (f & TFM_CPU_F16C)
                   ? strcmp(name, "avx2") ? &g_avx2_nodot : &g_avx2 : NULL;
#endif
#ifdef TFM_HAVE_AVX512
    if (strcmp(name, "avx512") == 0 || strcmp(name, "avx512-novnni") == 0) {
        uint32_t need = TFM_CPU_AVX512F | TFM_CPU_AVX512BW | TFM_CPU_AVX512VL |
                        TFM_CPU_AVX512DQ | TFM_CPU_AVX2 | TFM_CPU_FMA | TFM_CPU_F16C;
        return (f & need) == need ? strcmp(name, "avx512") ? &g_avx512_nodot : &g_avx512 : NULL;
    }
#endif
#ifdef TFM_HAVE_NEON
    if (strcmp(name, "neon") == 0 || strcmp(name, "neon-nodot") == 0)
        return (f & TFM_CPU_NEON) ? strcmp(name, "neon") ? &g_neon_nodot : &g_neon : NULL;
#endif
    return NULL;
}

static const tfm__kernels *g_kernels; // written once under g_once
static int g_forced;
static tfm__once_t g_once = TFM__ONCE_INIT;

static void choose(void) {
    static const char *const best_first[] = {"avx512", "avx2", "neon", "ref"};
    const char *env = getenv("TFM_ARCH");
    size_t i;
    if (env && *env) {
        const tfm__kernels *k = tfm__kernels_get(env);
        if (k) {
            g_kernels = k;
            g_forced = 1;
            return;
        }
    }
    for (i = 0; i < sizeof best_first / sizeof best_first[0]; i++) {
        const tfm__kernels *k = tfm__kernels_get(best_first[i]);
        if (k) {
            g_kernels = k;
            return;
        }
    }
    g_kernels = &tfm__kernels_ref;
}

const tfm__kernels *tfm__k(void) {
    tfm__call_once(&g_once, choose);
    return g_kernels;
}

const char *tfm_kernels_name(void) { return tfm__k()->name; }

int tfm_kernels_forced(void) {
    tfm__k();
    return g_forced;
}

int tfm_kernels_supported(const char *name) {
    return tfm__kernels_get(name) != NULL;
}
