/*
 * CPU feature detection: cpuid + xgetbv on x86-64 (a register set counts
 * only when the OS saves it), hwcaps on aarch64. Computed once.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "once.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static uint32_t detect(void) {
    unsigned a, b, c, d, max;
    uint32_t f = 0;
    int os_avx = 0, os_avx512 = 0;
    if (!__get_cpuid(0, &max, &b, &c, &d)) return 0;
    __cpuid(1, a, b, c, d);
    if (d & (1u << 26)) f |= TFM_CPU_SSE2;
    if ((c & (1u << 27)) && (c & (1u << 28))) { // OSXSAVE and AVX
        uint64_t xcr0 = xgetbv0();
        os_avx = (xcr0 & 0x6) == 0x6;              // XMM and YMM state
        os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0; // opmask, ZMM hi
    }
    if (os_avx) {
        f |= TFM_CPU_AVX;
        if (c & (1u << 12)) f |= TFM_CPU_FMA;
        if (c & (1u << 29)) f |= TFM_CPU_F16C;
    }
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (os_avx && (b & (1u << 5))) f |= TFM_CPU_AVX2;
        if (os_avx) {
            unsigned a1, b1, c1, d1;
            __cpuid_count(7, 1, a1, b1, c1, d1);
            if (a1 & (1u << 4)) f |= TFM_CPU_AVXVNNI;
        }
        if (os_avx512) {
            if (b & (1u << 16)) f |= TFM_CPU_AVX512F;
            if (b & (1u << 17)) f |= TFM_CPU_AVX512DQ;
            if (b & (1u << 30)) f |= TFM_CPU_AVX512BW;
            if (b & (1u << 31)) f |= TFM_CPU_AVX512VL;
            if (c & (1u << 11)) f |= TFM_CPU_AVX512VNNI;
            // AMX: tile and int8 bits, and the OS saving XTILECFG/XTILEDATA
            if ((d & (1u << 24)) && (d & (1u << 25)) && (xgetbv0() & 0x60000) == 0x60000)
                f |= TFM_CPU_AMXINT8;
            __cpuid_count(7, 1, a, b, c, d);
            if (a & (1u << 5)) f |= TFM_CPU_AVX512BF16;
        }
    }
    return f;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

static uint32_t detect(void) {
    unsigned long hw = getauxval(AT_HWCAP);
    uint32_t f = TFM_CPU_NEON; // Advanced SIMD is mandatory on aarch64
    if (hw & (1ul << 10)) f |= TFM_CPU_ASIMDHP; // HWCAP_ASIMDHP
    if (hw & (1ul << 20)) f |= TFM_CPU_ASIMDDP; // HWCAP_ASIMDDP
    return f;
}

#elif defined(__aarch64__)
static uint32_t detect(void) { return TFM_CPU_NEON; }
#else
static uint32_t detect(void) { return 0; }
#endif

// AMX's tile data is a state Linux lets a process use only when asked
// (arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA, feature 18), once.
#if (defined(__x86_64__) || defined(__i386__)) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
static int g_amx;
static tfm__once_t g_amx_once = TFM__ONCE_INIT;
static void request_amx(void) { g_amx = syscall(SYS_arch_prctl, 0x1023, 18) == 0; }
int tfm__amx_enable(void) {
    if (!(tfm_cpu_features() & TFM_CPU_AMXINT8)) return 0;
    tfm__call_once(&g_amx_once, request_amx);
    return g_amx;
}
#else
int tfm__amx_enable(void) { return 0; }
#endif

static uint32_t g_features; // written once under tfm__once
static tfm__once_t g_features_once = TFM__ONCE_INIT;

static void init_features(void) { g_features = detect(); }

uint32_t tfm_cpu_features(void) {
    tfm__call_once(&g_features_once, init_features);
    return g_features;
}

size_t tfm_cpu_features_str(uint32_t features, char *buf, size_t size) {
    static const struct { uint32_t bit; const char *name; } names[] = {
        {TFM_CPU_SSE2, "sse2"},         {TFM_CPU_AVX, "avx"},
        {TFM_CPU_AVX2, "avx2"},         {TFM_CPU_FMA, "fma"},
        {TFM_CPU_F16C, "f16c"},         {TFM_CPU_AVX512F, "avx512f"},
        {TFM_CPU_AVX512BW, "avx512bw"}, {TFM_CPU_AVX512VL, "avx512vl"},
        {TFM_CPU_AVX512DQ, "avx512dq"}, {TFM_CPU_AVX512VNNI, "avx512vnni"},
        {TFM_CPU_AVX512BF16, "avx512bf16"}, {TFM_CPU_AVXVNNI, "avxvnni"}, {TFM_CPU_AMXINT8, "amxint8"}, {TFM_CPU_NEON, "neon"},
        {TFM_CPU_ASIMDHP, "asimdhp"},   {TFM_CPU_ASIMDDP, "asimddp"},
    };
    size_t len = 0, i;
    if (size) buf[0] = '\0';
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n;
        if (!(features & names[i].bit)) continue;
        n = strlen(names[i].name) + (len ? 1 : 0);
        if (size && len + n < size) {
            if (len) buf[len] = ' ';
            memcpy(buf + len + (len ? 1 : 0), names[i].name, strlen(names[i].name));
            buf[len + n] = '\0';
        } else if (size) {
            buf[len < size ? len : size - 1] = '\0';
        }
        len += n;
    }
    return len;
}
