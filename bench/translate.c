/*
 * bench/translate: translation speed of a Marian folder (default: the
 * bundled models/de-en) on its held-out sentences (heldout.tsv beside the
 * model, German first), next to PyTorch in the same run:
 *   - sentences/s and target tokens/s (EOS included) translating every
 *     held-out sentence in batches of --batch (default 32), greedy and with
 *     --beam beams (default 4), with 1 and 2 threads;
 *   - PyTorch (bench/translate_torch.py, Debian's python3-torch and
 *     python3-sentencepiece, OMP_WAIT_POLICY=PASSIVE, torch.set_num_threads):
 *     the same model with cached self- and cross-attention in plain torch,
 *     the same batches and search rules; it also says whether its tokens
 *     equal the C library's.
 * Each figure is the best of --reps runs (default 3). Prints a Markdown
 * table for docs/PERFORMANCE.md. Without the model folder it says so and
 * exits 0.
 *
 *   translate [--model DIR] [--batch N] [--beam K] [--reps N] [--no-torch]
 *             [--torch-script PATH]
 */
#define _POSIX_C_SOURCE 200809L
#include "transformer.h"
#if defined(__GNUC__) || defined(__clang__)
#  pragma GCC diagnostic ignored "-Wunused-function" // the helpers it does not use
#endif
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char **read_sources(const char *path, int *n) {
    FILE *f = fopen(path, "r");
    char line[4096], **v = NULL;
    int cap = 0;
    *n = 0;
    if (!f) return NULL;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        if (*n == cap) {
            char **nv = (char **)realloc(v, (size_t)(cap = cap ? 2 * cap : 256) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[*n] = (char *)malloc(strlen(line) + 1);
        if (!v[*n]) break;
        strcpy(v[(*n)++], line);
    }
    fclose(f);
    return v;
}

// Translates every sentence; returns seconds, target tokens in *tokens and
// (when ids_out) the ids, one line per sentence.
static double run(tfm_session *s, char **texts, int n, int batch, int beam, long *tokens,
                  FILE *ids_out) {
    tfm_translate_params p = tfm_translate_params_default();
    double t0 = bench_now(), t = 0;
    int i, j, k;
    *tokens = 0;
    p.beam_size = beam;
    for (i = 0; i < n; i += batch) {
        int m = n - i < batch ? n - i : batch;
        tfm_translate_result *r = NULL;
        tfm_status st = tfm_translate(s, (const char *const *)(texts + i), m, &p, &r);
        if (st) {
            fprintf(stderr, "translate: %s\n", tfm_ctx_last_error(tfm_session_ctx(s)));
            return -1;
        }
        for (j = 0; j < r->n; j++) {
            *tokens += r->items[j].n_ids;
            if (ids_out) {
                for (k = 0; k < r->items[j].n_ids; k++)
                    fprintf(ids_out, "%s%d", k ? " " : "", (int)r->items[j].ids[k]);
                fprintf(ids_out, "\n");
            }
        }
        tfm_translate_result_free(r);
    }
    t = bench_now() - t0;
    return t;
}

int main(int argc, char **argv) {
    const char *dir = "models/de-en", *script = "bench/translate_torch.py";
    char path[1200], ids_path[2][64];
    int batch = 32, beam = 4, reps = 3, torch = 1, i, n = 0, th, mode;
    char **texts;
    struct stat sb;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--beam") && i + 1 < argc) beam = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else if (!strcmp(argv[i], "--torch-script") && i + 1 < argc) script = argv[++i];
        else {
            fprintf(stderr, "usage: translate [--model DIR] [--batch N] [--beam K] [--reps N] "
                            "[--no-torch] [--torch-script PATH]\n");
            return 1;
        }
    }
    if (batch < 1 || beam < 1 || reps < 1) return 1;
    snprintf(path, sizeof path, "%s/heldout.tsv", dir);
    if (stat(dir, &sb) != 0 || !(texts = read_sources(path, &n)) || n == 0) {
        printf("bench/translate: skipped: no %s (the bundled model, made by "
               "tools/train_de_en)\n", path);
        return 0;
    }
    printf("%d held-out sentences of %s, batches of %d\n\n", n, dir, batch);
    printf("| threads | search | libtransformer sent/s | tokens/s | PyTorch sent/s | tokens/s "
           "| same tokens |\n|---|---|---|---|---|---|---|\n");
    for (th = 1; th <= 2; th++) {
        tfm_ctx_params cp = tfm_ctx_params_default();
        tfm_ctx *ctx = NULL;
        tfm_model *m = NULL;
        tfm_session *s = NULL;
        cp.n_threads = th;
        if (tfm_ctx_create(&cp, &ctx) || tfm_model_load(ctx, dir, NULL, &m) ||
            tfm_session_create(ctx, m, NULL, &s)) {
            fprintf(stderr, "bench/translate: %s\n", tfm_ctx_last_error(ctx));
            return 1;
        }
        for (mode = 0; mode < 2; mode++) {
            int K = mode ? beam : 1, r;
            double best = 1e30, sec;
            long tok = 0;
            FILE *f;
            char line[512] = "";
            snprintf(ids_path[mode], sizeof ids_path[mode], "/tmp/tfm_bench_tr_%d_%d.txt",
                     (int)getpid(), mode);
            f = fopen(ids_path[mode], "w");
            for (r = 0; r < reps; r++) {
                sec = run(s, texts, n, batch, K, &tok, r == 0 ? f : NULL);
                if (sec < 0) return 1;
                if (sec < best) best = sec;
            }
            if (f) fclose(f);
            if (torch) {
                char cmd[2600];
                FILE *pp;
                snprintf(cmd, sizeof cmd,
                         "OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 %s --model %s --threads %d "
                         "--batch %d --beam %d --reps %d --compare %s", script, dir, th, batch,
                         K, reps, ids_path[mode]);
                pp = popen(cmd, "r");
                if (pp) {
                    if (!fgets(line, sizeof line, pp)) line[0] = 0;
                    pclose(pp);
                }
                line[strcspn(line, "\n")] = 0;
            }
            printf("| %d | %s | %.1f | %.0f | %s |\n", th, K == 1 ? "greedy" : "beam",
                   (double)n / best, (double)tok / best,
                   line[0] ? line : "- | - | -");
            remove(ids_path[mode]);
        }
        tfm_session_free(s);
        tfm_model_free(m);
        tfm_ctx_free(ctx);
    }
    for (i = 0; i < n; i++) free(texts[i]);
    free(texts);
    return 0;
}
