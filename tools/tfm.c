/*
 * tfm: the command-line face of libtransformer.
 *
 *   tfm info [--json]     version, CPU features, kernel set, threads
 */
#define _POSIX_C_SOURCE 200112L
#include "tfm.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const tfm_cmd g_cmds[] = {
    {"info", cmd_info, "version, CPU features, kernel set and threads"},
    {"generate", cmd_generate, "generate text with a decoder model (llama2.c .bin or HF folder)"},
    {"fill-mask", cmd_fill_mask, "predict [MASK] tokens with a BERT-family model"},
    {"embed", cmd_embed, "sentence embeddings with a BERT-family model"},
    {"classify", cmd_classify, "classify text with a BERT-family classifier"},
    {"tokenize", cmd_tokenize, "token ids, type ids and tokens of a text (tokenizer file or folder)"},
    {"translate", cmd_translate, "translate text with an encoder-decoder model (Marian folder)"},
    {"quantize", cmd_quantize, "write an HF folder with its matrices in Q8, Q4, F16..."},
};
#define N_CMDS (sizeof g_cmds / sizeof g_cmds[0])

int tool_usage_error(const char *fmt, ...) {
    va_list ap;
    fputs("tfm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see tfm --help)\n", stderr);
    return TFM_EXIT_USAGE;
}

int tool_runtime_error(tfm_ctx *ctx, tfm_status st, const char *what) {
    const char *msg = tfm_ctx_last_error(ctx);
    fprintf(stderr, "tfm: %s: %s%s%s\n", what, tfm_status_str(st), *msg ? ": " : "", msg);
    return TFM_EXIT_RUNTIME;
}

void tool_json_string(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

int tool_parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    long v;
    if (!s || !*s) return 0;
    v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int tool_parse_weights(const char *s, int32_t *out) {
    static const char *const names[6] = {"stored", "f32", "f16", "bf16", "q8", "q4"};
    int i;
    for (i = 0; s && i < 6; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (int32_t)i; // TFM_WEIGHTS_STORED .. TFM_WEIGHTS_Q4
            return 1;
        }
    return 0;
}

int tool_default_threads(void) {
    const char *env = getenv("TFM_THREADS");
    long n;
    if (env && tool_parse_int(env, 1, 1024, &n)) return (int)n;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

// ---- tfm info -------------------------------------------------------------------

int cmd_info(int argc, char **argv) {
    int json = 0, i, threads = tool_default_threads();
    char feats[256];
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else return tool_usage_error("info: unknown option '%s'", argv[i]);
    }
    tfm_cpu_features_str(tfm_cpu_features(), feats, sizeof feats);
    if (json) {
        printf("{\"version\":");
        tool_json_string(stdout, tfm_version_string());
        printf(",\"version_number\":%d,\"cpu_features\":", tfm_version_number());
        tool_json_string(stdout, feats);
        printf(",\"kernels\":");
        tool_json_string(stdout, tfm_kernels_name());
        printf(",\"kernels_forced\":%s,\"threads\":%d}\n",
               tfm_kernels_forced() ? "true" : "false", threads);
    } else {
        printf("libtransformer %s\n", tfm_version_string());
        printf("cpu features: %s\n", *feats ? feats : "(none)");
        printf("kernels:      %s%s\n", tfm_kernels_name(),
               tfm_kernels_forced() ? " (forced by TFM_ARCH)" : "");
        printf("threads:      %d\n", threads);
    }
    return TFM_EXIT_OK;
}

// ---- main -----------------------------------------------------------------------------

static void usage(FILE *f) {
    size_t i;
    fprintf(f, "usage: tfm <command> [options]\n\ncommands:\n");
    for (i = 0; i < N_CMDS; i++) fprintf(f, "  %-12s %s\n", g_cmds[i].name, g_cmds[i].summary);
    fprintf(f, "\nexit codes: 0 success, 1 usage error, 2 runtime error\n");
}

int main(int argc, char **argv) {
    size_t i;
    if (argc < 2) {
        usage(stderr);
        return TFM_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return TFM_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tfm %s\n", tfm_version_string());
        return TFM_EXIT_OK;
    }
    for (i = 0; i < N_CMDS; i++)
        if (strcmp(argv[1], g_cmds[i].name) == 0) return g_cmds[i].run(argc - 1, argv + 1);
    return tool_usage_error("unknown command '%s'", argv[1]);
}
