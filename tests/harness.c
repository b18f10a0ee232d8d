/*
 * Test runner: runs every registered test (or those whose name contains one
 * of the arguments), prints one line per failure or skip, and ends with
 * "N passed, N failed, N skipped".
 */
#define _POSIX_C_SOURCE 200112L
#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define X(name) void tfmt_##name(void);
#include "registry.h"
#undef X

typedef struct { const char *name; void (*fn)(void); } test_entry;

static const test_entry g_tests[] = {
#define X(name) {#name, tfmt_##name},
#include "registry.h"
#undef X
    {NULL, NULL}};

static const char *g_current;
static int g_fails, g_skipped, g_verbose;

void tfmt_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    if (g_fails < 20) {
        fprintf(stdout, "  FAIL %s (%s:%d): ", g_current, file, line);
        va_start(ap, fmt);
        vfprintf(stdout, fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
    }
    g_fails++;
}

void tfmt_skip(const char *why) {
    g_skipped = 1;
    fprintf(stdout, "  skip %s: %s\n", g_current, why);
}

int tfmt_failed(void) { return g_fails; }

double tfmt_relerr(const float *out, const double *ref, int64_t n) {
    double num = 0, den = 0;
    int64_t i;
    for (i = 0; i < n; i++) {
        double d = (double)out[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    if (den == 0) return sqrt(num);
    return sqrt(num / den);
}

double tfmt_relerr_f(const float *out, const float *ref, int64_t n) {
    double num = 0, den = 0;
    int64_t i;
    for (i = 0; i < n; i++) {
        double d = (double)out[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    if (den == 0) return sqrt(num);
    return sqrt(num / den);
}

static int report_relerr(const char *file, int line, const char *what, double err,
                         double tol, int64_t worst, double got, double want) {
    if (err <= tol) return 1; // NaN fails
    tfmt_fail(file, line, "%s: relative error %.3g > %.3g (worst at %lld: %.9g vs %.9g)",
              what, err, tol, (long long)worst, got, want);
    return 0;
}

int tfmt_check_relerr(const char *file, int line, const char *what,
                      const float *out, const double *ref, int64_t n, double tol) {
    int64_t i, worst = 0;
    double wd = -1;
    for (i = 0; i < n; i++) {
        double d = fabs((double)out[i] - ref[i]);
        if (d != d) d = INFINITY;
        if (d > wd) { wd = d; worst = i; }
    }
    return report_relerr(file, line, what, tfmt_relerr(out, ref, n), tol, worst,
                         n ? out[worst] : 0, n ? ref[worst] : 0);
}

int tfmt_check_relerr_f(const char *file, int line, const char *what,
                        const float *out, const float *ref, int64_t n, double tol) {
    int64_t i, worst = 0;
    double wd = -1;
    for (i = 0; i < n; i++) {
        double d = fabs((double)out[i] - ref[i]);
        if (d != d) d = INFINITY;
        if (d > wd) { wd = d; worst = i; }
    }
    return report_relerr(file, line, what, tfmt_relerr_f(out, ref, n), tol, worst,
                         n ? out[worst] : 0, n ? ref[worst] : 0);
}

// The log of tfmt_ctx's contexts: a context freed with bytes still held
// through it fails the test.
static void leak_log(void *ud, int level, const char *msg) {
    (void)ud;
    if (level == TFM_LOG_WARN && strncmp(msg, "ctx_free:", 9) == 0)
        tfmt_fail(__FILE__, __LINE__, "%s", msg);
}

tfm_ctx *tfmt_ctx(int n_threads) {
    tfm_ctx_params p = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    p.n_threads = n_threads;
    p.log = leak_log;
    if (tfm_ctx_create(&p, &ctx) != TFM_OK) {
        fprintf(stdout, "  cannot create a context\n");
        exit(2);
    }
    return ctx;
}

const char *tfmt_data(const char *rel) {
    static char buf[4096];
    const char *base = getenv("TFM_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", base && *base ? base : "tests", rel);
    return buf;
}

const char *tfmt_shared(const char *rel) {
    static char buf[4096];
    struct stat sb;
    const char *base = getenv("TFM_SHARED");
    if (!base || !*base) base = "../shared";
    if (stat(base, &sb) != 0 || !S_ISDIR(sb.st_mode)) return NULL;
    snprintf(buf, sizeof buf, "%s/%s", base, rel);
    return buf;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

void tfmt_seed(uint64_t seed) { g_rng = seed ? seed : 0x9e3779b97f4a7c15ull; }

float tfmt_randf(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

void tfmt_fill(float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] = tfmt_randf();
}

char *tfmt_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) { fclose(f); return NULL; }
    rewind(f);
    buf = (char *)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

void *tfmt_alloc(void *ud, void *ptr, size_t osize, size_t nsize, size_t align) {
    tfmt_alloc_state *s = (tfmt_alloc_state *)ud;
    void *p = NULL;
    if (nsize == 0) {
        if (ptr) {
            s->live_blocks--;
            s->live_bytes -= (long long)osize;
            free(ptr);
        }
        return NULL;
    }
    s->n_allocs++;
    if (s->fail_at && s->n_allocs == s->fail_at) {
        s->failed = 1;
        return NULL;
    }
    if (align < sizeof(void *)) align = sizeof(void *);
    if (posix_memalign(&p, align, nsize) != 0) return NULL;
    if (ptr) {
        memcpy(p, ptr, osize < nsize ? osize : nsize);
        free(ptr);
        s->live_bytes += (long long)nsize - (long long)osize;
    } else {
        s->live_blocks++;
        s->live_bytes += (long long)nsize;
    }
    return p;
}

const char *tfmt_scratch(const char *rel, const char *file, const char *edit) {
    static char dir[512];
    char cmd[2048];
    const char *base = strrchr(rel, '/');
    snprintf(dir, sizeof dir, "/tmp/tfm_scratch_%d_%s", (int)getpid(), base ? base + 1 : rel);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dir, tfmt_data(rel), dir);
    if (system(cmd) != 0) return NULL;
    if (file && edit)
        snprintf(cmd, sizeof cmd, "sed -i '%s' '%s/%s'", edit, dir, file);
    else if (file)
        snprintf(cmd, sizeof cmd, "rm -f '%s/%s'", dir, file);
    else
        return dir;
    return system(cmd) == 0 ? dir : NULL;
}

void tfmt_scratch_clean(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)system(cmd);
}

long tfmt_oom_walk(const char *file, int line, tfmt_scenario fn, void *arg) {
    tfmt_alloc_state st;
    tfm_ctx_params p = tfm_ctx_params_default();
    tfm_status rc;
    long total, i;
    p.alloc = tfmt_alloc;
    p.alloc_ud = &st;
    memset(&st, 0, sizeof st);
    rc = fn(&p, arg);
    if (rc != TFM_OK) {
        tfmt_fail(file, line, "scenario fails without injected failures: %s",
                  tfm_status_str(rc));
        return 0;
    }
    if (st.live_blocks != 0)
        tfmt_fail(file, line, "scenario leaks %ld blocks", st.live_blocks);
    total = st.n_allocs;
    for (i = 1; i <= total; i++) {
        memset(&st, 0, sizeof st);
        st.fail_at = i;
        rc = fn(&p, arg);
        if (st.failed && rc != TFM_ERR_NOMEM) {
            tfmt_fail(file, line, "allocation %ld of %ld failed, scenario returned %s",
                      i, total, tfm_status_str(rc));
            break;
        }
        if (st.live_blocks != 0 || st.live_bytes != 0) {
            tfmt_fail(file, line, "allocation %ld of %ld failed: %ld blocks (%lld bytes) leaked",
                      i, total, st.live_blocks, st.live_bytes);
            break;
        }
    }
    return total;
}

/* Arguments: names (substrings) of the tests to run, all when none;
 * --exclude=SUBSTR leaves out the tests whose names contain it; -v names
 * each test passed; --arches prints the kernel sets this CPU runs. */
int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0, i, a;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-v") == 0) g_verbose = 1;
        if (strcmp(argv[a], "--arches") == 0) { // kernel sets this CPU runs
            static const char *const names[] = {"ref", "avx2", "avx512", "neon"};
            for (i = 0; i < 4; i++)
                if (tfm_kernels_supported(names[i])) printf("%s\n", names[i]);
            return 0;
        }
    }
    for (i = 0; g_tests[i].name; i++) {
        int selected = 1, any_filter = 0;
        for (a = 1; a < argc; a++) {
            if (strncmp(argv[a], "--exclude=", 10) == 0 && strstr(g_tests[i].name, argv[a] + 10))
                break;
            if (argv[a][0] == '-') continue;
            if (!any_filter) selected = 0;
            any_filter = 1;
            if (strstr(g_tests[i].name, argv[a])) selected = 1;
        }
        if (!selected || a < argc) continue;
        g_current = g_tests[i].name;
        g_fails = 0;
        g_skipped = 0;
        tfmt_seed(0);
        g_tests[i].fn();
        if (g_fails) {
            failed++;
            fprintf(stdout, "FAIL %s\n", g_current);
        } else if (g_skipped) {
            skipped++;
        } else {
            passed++;
            if (g_verbose) fprintf(stdout, "ok   %s\n", g_current);
        }
        fflush(stdout);
    }
    fprintf(stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
