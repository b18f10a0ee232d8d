/*
 * Encoder tasks on BERT-family models (Hugging Face folders):
 *
 *   tfm fill-mask MODEL_DIR TEXT... [--top-k K] [--truncate] [--threads N] [--json]
 *   tfm embed     MODEL_DIR TEXT... [--pooling cls|mean|none] [--normalize]
 *                                   [--truncate] [--threads N] [--json]
 *   tfm classify  MODEL_DIR TEXT... [--pair TEXT] [--truncate] [--threads N] [--json]
 *
 * Each also takes --weights stored|f32|f16|bf16 (tfm_model_params.weights).
 *
 * --json prints one JSON object on stdout:
 *   fill-mask  {"predictions":[[{"token":"paris","id":3000,"score":0.41},...],...]}
 *              (one list per [MASK], in text order)
 *   embed      {"pooling":"mean","dim":768,"embeddings":[[...],...]}
 *              (none: "embeddings" holds per-text lists of the token vectors)
 *   classify   {"results":[[{"label":"POSITIVE","score":0.98},...],...]}
 *              (labels sorted by probability, one list per text)
 */
#include "tfm.h"

#include <stdlib.h>
#include <string.h>

typedef struct bert_args {
    const char *model;
    const char **texts;
    int n_texts;
    const char *pair;
    long top_k, threads;
    int json, truncate, normalize, pooling;
    int32_t weights; // tfm_weights
} bert_args;

// Parses the options shared by the three commands; `cmd` names the command
// in messages. Returns 0 or a usage exit code.
static int parse_args(const char *cmd, int argc, char **argv, bert_args *a) {
    int i;
    memset(a, 0, sizeof *a);
    a->top_k = 5;
    a->threads = tool_default_threads();
    a->pooling = TFM_POOLING_MEAN;
    a->texts = (const char **)calloc((size_t)argc, sizeof(char *));
    if (!a->texts) return tool_usage_error("%s: out of memory", cmd);
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (o[0] != '-' || o[1] != '-') {
            if (!a->model) a->model = o;
            else a->texts[a->n_texts++] = o;
            continue;
        }
        if (!strcmp(o, "--json")) a->json = 1;
        else if (!strcmp(o, "--truncate")) a->truncate = 1;
        else if (!strcmp(o, "--normalize") && !strcmp(cmd, "embed")) a->normalize = 1;
        else if (!strcmp(o, "--top-k") && !strcmp(cmd, "fill-mask")) {
            if (!v || !tool_parse_int(v, 1, 1 << 20, &a->top_k))
                return tool_usage_error("%s: bad --top-k '%s'", cmd, v ? v : "");
            i++;
        } else if (!strcmp(o, "--threads")) {
            if (!v || !tool_parse_int(v, 1, 1024, &a->threads))
                return tool_usage_error("%s: bad --threads '%s'", cmd, v ? v : "");
            i++;
        } else if (!strcmp(o, "--weights")) {
            if (!v || !tool_parse_weights(v, &a->weights))
                return tool_usage_error("%s: --weights takes " TOOL_WEIGHTS_CHOICES ", not '%s'",
                                        cmd, v ? v : "");
            i++;
        } else if (!strcmp(o, "--pooling") && !strcmp(cmd, "embed")) {
            if (v && !strcmp(v, "mean")) a->pooling = TFM_POOLING_MEAN;
            else if (v && !strcmp(v, "cls")) a->pooling = TFM_POOLING_CLS;
            else if (v && !strcmp(v, "none")) a->pooling = TFM_POOLING_NONE;
            else return tool_usage_error("%s: --pooling takes cls, mean or none", cmd);
            i++;
        } else if (!strcmp(o, "--pair") && !strcmp(cmd, "classify")) {
            if (!v) return tool_usage_error("%s: --pair needs a value", cmd);
            a->pair = v;
            i++;
        } else {
            return tool_usage_error("%s: unknown option '%s'", cmd, o);
        }
    }
    if (!a->model) return tool_usage_error("%s: no MODEL_DIR given", cmd);
    if (!a->n_texts) return tool_usage_error("%s: no TEXT given", cmd);
    if (a->pair && a->n_texts != 1)
        return tool_usage_error("%s: --pair goes with exactly one TEXT", cmd);
    return 0;
}

// Opens a context and loads the model; returns 0 or a runtime exit code.
static int open_model(const bert_args *a, const char *cmd, tfm_ctx **ctx, tfm_model **m) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_model_params mp = tfm_model_params_default();
    tfm_status st;
    cp.n_threads = (int32_t)a->threads;
    *m = NULL;
    if ((st = tfm_ctx_create(&cp, ctx))) {
        fprintf(stderr, "tfm: %s: cannot create a context: %s\n", cmd, tfm_status_str(st));
        return TFM_EXIT_RUNTIME;
    }
    mp.weights = a->weights;
    if ((st = tfm_model_load(*ctx, a->model, &mp, m))) return tool_runtime_error(*ctx, st, cmd);
    return 0;
}

static void finish(bert_args *a, tfm_ctx *ctx, tfm_model *m) {
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    free((void *)a->texts);
}

static tfm_task_params task_params(const bert_args *a) {
    tfm_task_params p = tfm_task_params_default();
    p.truncate = a->truncate;
    p.top_k = (int32_t)a->top_k;
    p.pooling = a->pooling;
    p.normalize = a->normalize;
    return p;
}

// ---- tfm fill-mask ------------------------------------------------------------------------

int cmd_fill_mask(int argc, char **argv) {
    bert_args a;
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_fill_mask_result *r = NULL;
    tfm_task_params p;
    tfm_status st;
    int rc, i, k;
    if ((rc = parse_args("fill-mask", argc, argv, &a))) {
        free((void *)a.texts);
        return rc;
    }
    if ((rc = open_model(&a, "fill-mask", &ctx, &m))) goto out;
    p = task_params(&a);
    if ((st = tfm_fill_mask(ctx, m, a.texts, a.n_texts, &p, &r))) {
        rc = tool_runtime_error(ctx, st, "fill-mask");
        goto out;
    }
    if (a.json) printf("{\"predictions\":[");
    for (i = 0; i < r->n_masks; i++) {
        if (a.json) printf("%s[", i ? "," : "");
        else printf("text %d, [MASK] at token %d:\n", (int)r->text[i], (int)r->position[i]);
        for (k = 0; k < r->top_k; k++) {
            const tfm_prediction *q = &r->pred[i * r->top_k + k];
            if (a.json) {
                printf("%s{\"token\":", k ? "," : "");
                tool_json_string(stdout, q->token ? q->token : "");
                printf(",\"id\":%d,\"score\":%.6g}", (int)q->id, (double)q->score);
            } else {
                printf("  %-16s %6d  %.4f\n", q->token ? q->token : "?", (int)q->id,
                       (double)q->score);
            }
        }
        if (a.json) printf("]");
    }
    if (a.json) printf("]}\n");
out:
    tfm_fill_mask_result_free(r);
    finish(&a, ctx, m);
    return rc;
}

// ---- tfm embed ----------------------------------------------------------------------------

static void print_vec(const float *v, int32_t d, int json) {
    int32_t j;
    if (json) putchar('[');
    for (j = 0; j < d; j++) printf(json ? "%s%.7g" : "%s%.6g", j ? (json ? "," : " ") : "", (double)v[j]);
    if (json) putchar(']');
}

int cmd_embed(int argc, char **argv) {
    static const char *names[3] = {"mean", "cls", "none"};
    bert_args a;
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_embeddings *e = NULL;
    tfm_task_params p;
    tfm_status st;
    int rc, i, s;
    if ((rc = parse_args("embed", argc, argv, &a))) {
        free((void *)a.texts);
        return rc;
    }
    if ((rc = open_model(&a, "embed", &ctx, &m))) goto out;
    p = task_params(&a);
    if ((st = tfm_embed_texts(ctx, m, a.texts, a.n_texts, &p, &e))) {
        rc = tool_runtime_error(ctx, st, "embed");
        goto out;
    }
    if (a.json) printf("{\"pooling\":\"%s\",\"dim\":%d,\"embeddings\":[", names[e->pooling],
                       (int)e->dim);
    for (i = 0; i < e->n; i++) {
        if (a.json && i) putchar(',');
        if (e->pooling != TFM_POOLING_NONE) {
            print_vec(e->data + (size_t)i * e->dim, e->dim, a.json);
            if (!a.json) putchar('\n');
            continue;
        }
        if (a.json) putchar('[');
        for (s = 0; s < e->lengths[i]; s++) {
            if (a.json && s) putchar(',');
            if (!a.json) printf("%d %d: ", i, s);
            print_vec(e->data + ((size_t)i * e->seq_len + s) * e->dim, e->dim, a.json);
            if (!a.json) putchar('\n');
        }
        if (a.json) putchar(']');
    }
    if (a.json) printf("]}\n");
out:
    tfm_embeddings_free(e);
    finish(&a, ctx, m);
    return rc;
}

// ---- tfm classify -------------------------------------------------------------------------

int cmd_classify(int argc, char **argv) {
    bert_args a;
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_classification *c = NULL;
    tfm_task_params p;
    tfm_status st;
    int rc, i, j;
    int32_t *order = NULL;
    const char *pairs[1];
    if ((rc = parse_args("classify", argc, argv, &a))) {
        free((void *)a.texts);
        return rc;
    }
    if ((rc = open_model(&a, "classify", &ctx, &m))) goto out;
    p = task_params(&a);
    pairs[0] = a.pair;
    if ((st = tfm_classify(ctx, m, a.texts, a.pair ? pairs : NULL, a.n_texts, &p, &c))) {
        rc = tool_runtime_error(ctx, st, "classify");
        goto out;
    }
    order = (int32_t *)malloc((size_t)c->n_labels * sizeof(int32_t));
    if (!order) {
        rc = TFM_EXIT_RUNTIME;
        goto out;
    }
    if (a.json) printf("{\"results\":[");
    for (i = 0; i < c->n; i++) {
        const float *pr = c->probs + (size_t)i * c->n_labels;
        // Labels by falling probability (insertion sort: few labels).
        for (j = 0; j < c->n_labels; j++) {
            int k = j;
            while (k > 0 && pr[order[k - 1]] < pr[j]) {
                order[k] = order[k - 1];
                k--;
            }
            order[k] = j;
        }
        if (a.json) printf("%s[", i ? "," : "");
        else if (c->n > 1) printf("text %d:\n", i);
        for (j = 0; j < c->n_labels; j++) {
            if (a.json) {
                printf("%s{\"label\":", j ? "," : "");
                tool_json_string(stdout, c->labels[order[j]]);
                printf(",\"score\":%.6g}", (double)pr[order[j]]);
            } else {
                printf("  %-20s %.4f\n", c->labels[order[j]], (double)pr[order[j]]);
            }
        }
        if (a.json) printf("]");
    }
    if (a.json) printf("]}\n");
out:
    free(order);
    tfm_classification_free(c);
    finish(&a, ctx, m);
    return rc;
}
