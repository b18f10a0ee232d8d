/*
 * tfm translate [MODEL_DIR] TEXT... [--beam N] [--max-length N] [--json]
 *               [--attention FILE.svg] [--ids] [--threads N]
 *               [--weights stored|f32|f16|bf16]
 *
 * Translates each TEXT with an encoder-decoder model (a Marian folder or an
 * nn.Transformer export), all of them in one padded batch, and prints one
 * translation per line. MODEL_DIR is taken when the first argument is a
 * folder; otherwise the bundled model is used: $TFM_TRANSLATE_MODEL, else
 * models/de-en/ (from the current folder, or beside the executable's
 * folder). --ids reads each TEXT as space-separated source token ids (the
 * EOS included) instead of text. --json prints
 * {"translations":[{"source":...,"translation":...,"ids":[...],...}]}.
 * --attention draws the cross-attention of each translation (source tokens
 * x target tokens, the decoder's last layer averaged over heads) as an SVG
 * heatmap (FILE.svg for the first text, FILE-2.svg, ... for the next) and,
 * without --json, as a shaded character grid on stdout.
 */
#define _POSIX_C_SOURCE 200112L
#include "tfm.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p) {
    struct stat sb;
    return p && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

// The bundled model folder, or NULL: $TFM_TRANSLATE_MODEL, models/de-en
// from the current folder, or ../models/de-en from the executable's folder.
static const char *bundled(char *buf, size_t size) {
    const char *env = getenv("TFM_TRANSLATE_MODEL");
    char exe[900];
    ssize_t k;
    char *slash;
    if (env && *env) return env;
    if (is_dir("models/de-en")) return "models/de-en";
    k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return NULL;
    exe[k] = 0;
    if (!(slash = strrchr(exe, '/'))) return NULL;
    *slash = 0;
    snprintf(buf, size, "%s/../models/de-en", exe);
    return is_dir(buf) ? buf : NULL;
}

// The label of token id: its vocab.json piece (U+2581 shown as "_"), else
// the number.
static void label(const tfm_model *m, int32_t id, char *buf, size_t size) {
    const char *p = tfm_translate_piece(m, id);
    size_t o = 0;
    if (!p) {
        snprintf(buf, size, "%d", (int)id);
        return;
    }
    while (*p && o + 4 < size) {
        if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x96 &&
            (unsigned char)p[2] == 0x81) {
            buf[o++] = '_';
            p += 3;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o] = 0;
}

static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

// SVG heatmap: source tokens as columns, target tokens as rows.
static int write_svg(const char *path, const tfm_model *m, const tfm_translation *t) {
    FILE *f = fopen(path, "w");
    int32_t i, j;
    const int cell = 28, left = 110, top = 110;
    char lb[128];
    if (!f) return 0;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n",
            left + cell * t->n_src + 20, top + cell * t->n_ids + 20);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    for (j = 0; j < t->n_src; j++) {
        label(m, t->src_ids[j], lb, sizeof lb);
        fprintf(f, "<text transform=\"translate(%d,%d) rotate(-60)\">", left + j * cell + cell / 2,
                top - 6);
        xml_text(f, lb);
        fprintf(f, "</text>\n");
    }
    for (i = 0; i < t->n_ids; i++) {
        label(m, t->ids[i], lb, sizeof lb);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6,
                top + i * cell + cell / 2 + 4);
        xml_text(f, lb);
        fprintf(f, "</text>\n");
        for (j = 0; j < t->n_src; j++) {
            float a = t->attention[(size_t)i * t->n_src + j];
            int shade = (int)(255.0f * (1.0f - (a < 0 ? 0 : a > 1 ? 1 : a)) + 0.5f);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                       "fill=\"rgb(%d,%d,255)\"><title>%.3f</title></rect>\n",
                    left + j * cell, top + i * cell, cell - 1, cell - 1, shade, shade, a);
        }
    }
    fprintf(f, "</svg>\n");
    return fclose(f) == 0;
}

// The grid in the terminal: one row per target token, one shaded
// character per source token, the source labels listed below.
static void print_grid(const tfm_model *m, const tfm_translation *t) {
    static const char shades[] = " .:-=+*#%@";
    int32_t i, j;
    char lb[128];
    for (i = 0; i < t->n_ids; i++) {
        label(m, t->ids[i], lb, sizeof lb);
        printf("  %12.12s |", lb);
        for (j = 0; j < t->n_src; j++) {
            float a = t->attention[(size_t)i * t->n_src + j];
            int k = (int)(a * 9.0f + 0.5f);
            k = k < 0 ? 0 : k > 9 ? 9 : k;
            putchar(shades[k]);
            putchar(shades[k]);
        }
        printf("|\n");
    }
    printf("  %12s  ", "");
    for (j = 0; j < t->n_src; j++) printf("%-2d", (int)(j % 100));
    printf("\n");
    for (j = 0; j < t->n_src; j++) {
        label(m, t->src_ids[j], lb, sizeof lb);
        printf("  %12s  %2d = %s\n", "", (int)j, lb);
    }
}

static int parse_ids(const char *s, int32_t **out, int32_t *n) {
    int32_t cap = 8, k = 0;
    int32_t *ids = (int32_t *)malloc((size_t)cap * sizeof *ids);
    char *end;
    if (!ids) return 0;
    while (*s) {
        long v;
        while (*s == ' ' || *s == ',') s++;
        if (!*s) break;
        v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 0x7fffffffL) {
            free(ids);
            return 0;
        }
        if (k == cap) {
            int32_t *p = (int32_t *)realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
            if (!p) {
                free(ids);
                return 0;
            }
            ids = p;
        }
        ids[k++] = (int32_t)v;
        s = end;
    }
    *out = ids;
    *n = k;
    return 1;
}

int cmd_translate(int argc, char **argv) {
    const char *dir = NULL, *svg = NULL, **texts;
    char dirbuf[1024];
    long beam = 0, threads = tool_default_threads(), maxlen = 0;
    int json = 0, use_ids = 0, i, n = 0, rc = TFM_EXIT_OK;
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_model_params mp = tfm_model_params_default();
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_translate_params tp = tfm_translate_params_default();
    tfm_translate_result *res = NULL;
    tfm_status st;
    int32_t **ids = NULL, *lens = NULL;
    texts = (const char **)calloc((size_t)argc + 1, sizeof *texts);
    if (!texts) return tool_usage_error("out of memory");
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--beam") == 0 && i + 1 < argc) {
            if (!tool_parse_int(argv[++i], 1, 64, &beam)) {
                free(texts);
                return tool_usage_error("--beam: a number in 1..64");
            }
        } else if (strcmp(a, "--max-length") == 0 && i + 1 < argc) {
            if (!tool_parse_int(argv[++i], 1, 100000, &maxlen)) {
                free(texts);
                return tool_usage_error("--max-length: a positive number");
            }
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            if (!tool_parse_int(argv[++i], 1, 1024, &threads)) {
                free(texts);
                return tool_usage_error("--threads: a number in 1..1024");
            }
        } else if (strcmp(a, "--weights") == 0 && i + 1 < argc) {
            if (!tool_parse_weights(argv[++i], &mp.weights)) {
                free(texts);
                return tool_usage_error("--weights: " TOOL_WEIGHTS_CHOICES);
            }
        } else if (strcmp(a, "--attention") == 0 && i + 1 < argc) {
            svg = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--ids") == 0) {
            use_ids = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: tfm translate [MODEL_DIR] TEXT... [--beam N] [--max-length N] "
                   "[--json] [--attention FILE.svg] [--ids] [--threads N] "
                   "[--weights stored|f32|f16|bf16]\n");
            free(texts);
            return TFM_EXIT_OK;
        } else if (a[0] == '-' && a[1] == '-') {
            free(texts);
            return tool_usage_error("translate: unknown option %s", a);
        } else if (!dir && n == 0 && is_dir(a)) {
            dir = a;
        } else {
            texts[n++] = a;
        }
    }
    if (n == 0) {
        free(texts);
        return tool_usage_error("translate: no text to translate (usage: tfm translate "
                                "[MODEL_DIR] TEXT... [--beam N] [--json] [--attention FILE.svg])");
    }
    if (!dir && !(dir = bundled(dirbuf, sizeof dirbuf))) {
        fprintf(stderr, "tfm: translate: no MODEL_DIR given and the bundled German-English "
                        "model (models/de-en/) is not there; it is made by "
                        "tools/train_de_en (see its README.md), or set TFM_TRANSLATE_MODEL\n");
        free(texts);
        return TFM_EXIT_RUNTIME;
    }
    cp.n_threads = (int32_t)threads;
    if ((st = tfm_ctx_create(&cp, &ctx))) {
        free(texts);
        return tool_runtime_error(NULL, st, "creating the context");
    }
    if ((st = tfm_model_load(ctx, dir, &mp, &m))) {
        rc = tool_runtime_error(ctx, st, dir);
        goto done;
    }
    if ((st = tfm_session_create(ctx, m, NULL, &s))) {
        rc = tool_runtime_error(ctx, st, "session");
        goto done;
    }
    tp.beam_size = (int32_t)beam;
    tp.max_length = (int32_t)maxlen;
    tp.attention = svg != NULL;
    if (use_ids) {
        ids = (int32_t **)calloc((size_t)n, sizeof *ids);
        lens = (int32_t *)calloc((size_t)n, sizeof *lens);
        if (!ids || !lens) {
            rc = tool_usage_error("out of memory");
            goto done;
        }
        for (i = 0; i < n; i++)
            if (!parse_ids(texts[i], &ids[i], &lens[i])) {
                rc = tool_usage_error("translate: --ids: '%s' is not a list of token ids",
                                      texts[i]);
                goto done;
            }
        st = tfm_translate_tokens(s, (const int32_t *const *)ids, lens, n, &tp, &res);
    } else {
        st = tfm_translate(s, texts, n, &tp, &res);
    }
    if (st) {
        rc = tool_runtime_error(ctx, st, "translate");
        goto done;
    }
    if (json) printf("{\"translations\":[");
    for (i = 0; i < res->n; i++) {
        const tfm_translation *t = &res->items[i];
        int32_t j;
        if (json) {
            printf("%s{\"source\":", i ? "," : "");
            tool_json_string(stdout, texts[i]);
            printf(",\"translation\":");
            tool_json_string(stdout, t->text ? t->text : "");
            printf(",\"ids\":[");
            for (j = 0; j < t->n_ids; j++) printf("%s%d", j ? "," : "", (int)t->ids[j]);
            printf("],\"source_ids\":[");
            for (j = 0; j < t->n_src; j++) printf("%s%d", j ? "," : "", (int)t->src_ids[j]);
            printf("],\"score\":%.6g}", (double)t->score);
        } else if (t->text) {
            printf("%s\n", t->text);
        } else {
            for (j = 0; j < t->n_ids; j++) printf("%s%d", j ? " " : "", (int)t->ids[j]);
            printf("\n");
        }
        if (svg && t->attention) {
            char path[1100];
            size_t L = strlen(svg);
            if (i == 0) snprintf(path, sizeof path, "%s", svg);
            else if (L > 4 && strcmp(svg + L - 4, ".svg") == 0)
                snprintf(path, sizeof path, "%.*s-%d.svg", (int)(L - 4), svg, i + 1);
            else snprintf(path, sizeof path, "%s-%d", svg, i + 1);
            if (!write_svg(path, m, t)) {
                fprintf(stderr, "tfm: translate: cannot write %s\n", path);
                rc = TFM_EXIT_RUNTIME;
            }
            if (!json) print_grid(m, t);
        }
    }
    if (json) printf("]}\n");
done:
    if (ids)
        for (i = 0; i < n; i++) free(ids[i]);
    free(ids);
    free(lens);
    free(texts);
    tfm_translate_result_free(res);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return rc;
}
