/*
 * tfm generate MODEL [--tokenizer FILE] [--prompt TEXT] [--steps N]
 *               [--temperature T] [--top-k K] [--top-p P] [--seed S]
 *               [--repetition-penalty R] [--threads N] [--weights stored|f32|f16|bf16]
 *
 * Streams the prompt and the generated text to stdout as llama2.c's run
 * does (each piece as it comes, pieces that are a lone unprintable byte
 * skipped, a newline at the end); --steps counts positions, prompt
 * included. A closing line on stderr gives the prompt and generation
 * speeds in tokens/s.
 */
#include "tfm.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

// A piece that is one byte which is neither printable nor space is left
// out (raw byte-fallback tokens), as llama2.c's safe_printf does.
static void put_piece(const char *p, size_t len) {
    if (!p || len == 0) return;
    if (len == 1 && !(isprint((unsigned char)p[0]) || isspace((unsigned char)p[0]))) return;
    fwrite(p, 1, len, stdout);
    fflush(stdout);
}

static int on_token(void *ud, int32_t token, const char *piece, size_t len) {
    (void)ud;
    (void)token;
    put_piece(piece, len);
    return 0;
}

static int parse_float(const char *s, double lo, double hi, double *out) {
    char *end;
    double v;
    if (!s || !*s) return 0;
    v = strtod(s, &end);
    if (*end || !(v >= lo && v <= hi)) return 0;
    *out = v;
    return 1;
}

int cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *prompt = "";
    long steps = 256, top_k = 0, threads = tool_default_threads(), seed = 42;
    double temperature = 1.0, top_p = 1.0, rep = 1.0;
    int i, rc = TFM_EXIT_OK, added_bos = 0;
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_model_params mp = tfm_model_params_default();
    tfm_gen_params gp = tfm_gen_params_default();
    tfm_encode_params ep = tfm_encode_params_default();
    tfm_gen_stats stats = tfm_gen_stats_default();
    const tfm_tokenizer *tok;
    int32_t *ids = NULL, n_ids = 0, n_gen = 0;
    size_t n = 0;
    tfm_status st;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' || a[1] != '-') {
            if (model_path) return tool_usage_error("generate: more than one MODEL ('%s')", a);
            model_path = a;
            continue;
        }
        if (!v) return tool_usage_error("generate: %s needs a value", a);
        i++;
        if (strcmp(a, "--tokenizer") == 0) tok_path = v;
        else if (strcmp(a, "--prompt") == 0) prompt = v;
        else if (strcmp(a, "--steps") == 0) {
            if (!tool_parse_int(v, 0, 1 << 30, &steps))
                return tool_usage_error("generate: bad --steps '%s'", v);
        } else if (strcmp(a, "--temperature") == 0) {
            if (!parse_float(v, 0.0, 1e6, &temperature))
                return tool_usage_error("generate: bad --temperature '%s'", v);
        } else if (strcmp(a, "--top-k") == 0) {
            if (!tool_parse_int(v, 0, 1 << 30, &top_k))
                return tool_usage_error("generate: bad --top-k '%s'", v);
        } else if (strcmp(a, "--top-p") == 0) {
            if (!parse_float(v, 1e-9, 1.0, &top_p))
                return tool_usage_error("generate: bad --top-p '%s' (0 < p <= 1)", v);
        } else if (strcmp(a, "--repetition-penalty") == 0) {
            if (!parse_float(v, 1e-6, 1e6, &rep))
                return tool_usage_error("generate: bad --repetition-penalty '%s'", v);
        } else if (strcmp(a, "--seed") == 0) {
            if (!tool_parse_int(v, 0, 0x7fffffffL, &seed))
                return tool_usage_error("generate: bad --seed '%s'", v);
        } else if (strcmp(a, "--threads") == 0) {
            if (!tool_parse_int(v, 1, 1024, &threads))
                return tool_usage_error("generate: bad --threads '%s'", v);
        } else if (strcmp(a, "--weights") == 0) {
            if (!tool_parse_weights(v, &mp.weights))
                return tool_usage_error("generate: --weights takes " TOOL_WEIGHTS_CHOICES
                                        ", not '%s'", v);
        } else {
            return tool_usage_error("generate: unknown option '%s'", a);
        }
    }
    if (!model_path) return tool_usage_error("generate: MODEL (a llama2.c .bin or an HF folder) is required");

    cp.n_threads = (int32_t)threads;
    if ((st = tfm_ctx_create(&cp, &ctx))) return tool_runtime_error(ctx, st, "context");
    mp.tokenizer_path = tok_path;
    if ((st = tfm_model_load(ctx, model_path, &mp, &m))) {
        rc = tool_runtime_error(ctx, st, model_path);
        goto done;
    }
    tok = tfm_model_tokenizer(m);
    if (!tok) {
        fprintf(stderr, "tfm: generate: %s: no tokenizer found (use --tokenizer FILE)\n",
                model_path);
        rc = TFM_EXIT_RUNTIME;
        goto done;
    }
    if ((st = tfm_session_create(ctx, m, NULL, &s))) {
        rc = tool_runtime_error(ctx, st, "session");
        goto done;
    }
    if (steps == 0 || steps > tfm_session_max_context(s)) steps = tfm_session_max_context(s);

    // The prompt's ids: BOS (for models that start with it), then the text.
    ep.add_special = 0;
    if (*prompt && (st = tfm_tokenizer_encode(ctx, tok, prompt, TFM_STRLEN, NULL, 0, &ep, NULL,
                                              NULL, NULL, 0, &n))) {
        rc = tool_runtime_error(ctx, st, "prompt");
        goto done;
    }
    ids = (int32_t *)malloc((n + 1) * sizeof(int32_t));
    if (!ids) {
        fprintf(stderr, "tfm: generate: out of memory\n");
        rc = TFM_EXIT_RUNTIME;
        goto done;
    }
    if (strcmp(tfm_model_arch(m), "llama") == 0 || n == 0) {
        ids[n_ids++] = tfm_model_bos(m);
        added_bos = 1;
    }
    if (n && (st = tfm_tokenizer_encode(ctx, tok, prompt, TFM_STRLEN, NULL, 0, &ep, ids + n_ids,
                                        NULL, NULL, n, &n))) {
        rc = tool_runtime_error(ctx, st, "prompt");
        goto done;
    }
    n_ids += (int32_t)n;
    if (ids[0] < 0) {
        fprintf(stderr, "tfm: generate: the model has no BOS token to start from\n");
        rc = TFM_EXIT_RUNTIME;
        goto done;
    }
    // Echo the prompt as llama2.c does: each piece after the BOS.
    for (i = added_bos; i < n_ids; i++) {
        char piece[256];
        size_t len = 0;
        if (tfm_tokenizer_decode_next(ctx, tok, i ? ids[i - 1] : -1, ids[i], 0, piece,
                                      sizeof piece, &len) == TFM_OK)
            put_piece(piece, len);
    }

    gp.temperature = (float)temperature;
    gp.top_k = (int32_t)top_k;
    gp.top_p = (float)top_p;
    gp.repetition_penalty = (float)rep;
    gp.seed = (uint64_t)seed;
    gp.max_new_tokens = 0;
    gp.max_total_tokens = (int32_t)steps;
    gp.on_token = on_token;
    st = tfm_generate_tokens(s, ids, n_ids, &gp, NULL, 0, &n_gen, &stats);
    printf("\n");
    fflush(stdout);
    if (st) {
        rc = tool_runtime_error(ctx, st, "generate");
        goto done;
    }
    fprintf(stderr, "prompt: %d tokens, %.1f tok/s; generation: %d tokens, %.1f tok/s (%d threads)\n",
            (int)stats.n_prompt,
            stats.prompt_seconds > 0 ? stats.n_prompt / stats.prompt_seconds : 0.0,
            (int)stats.n_generated,
            stats.gen_seconds > 0 ? stats.n_generated / stats.gen_seconds : 0.0, (int)threads);
done:
    free(ids);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return rc;
}
