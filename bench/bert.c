/*
 * bench/bert: BERT encoder latency (BertModel, last hidden state) at batch 1.
 *
 *   bert                      writes a random BERT-base folder to a scratch
 *                             folder, runs the default grid, deletes it
 *   bert --write DIR          only writes the random BERT-base folder
 *   bert DIR [--seq 32,128,512] [--threads 1,2] [--runs 5] [--dump FILE]
 *            [--weights stored|f32|f16|bf16|q8|q4[,...]]
 *   bert DIR --serve --seq S --threads N --weights f32,q8,q4
 *
 * The model is BERT-base shaped (12 layers, width 768, 12 heads, 3072,
 * vocabulary 30522, 512 positions) with random weights from a fixed seed,
 * written as a Hugging Face folder (config.json, vocab.txt,
 * model.safetensors), so bench/bert_compare.py runs PyTorch and ONNX Runtime
 * on the very same weights. Each line gives the median of --runs timed runs
 * after one warm-up:
 *   bert seq=128 threads=1 median_ms=... min_ms=... gflops=...
 * --dump writes the hidden states of the first --seq size (f32, raw) for
 * the compare script to check the results agree. With several --weights
 * (a list), the formats take turns within each repetition and each line
 * also gives the cosine of the hidden states with those of the first
 * format (cos_vs_first, mean over tokens).
 * --serve (for bench/anchors_bert_int8.py --tfm, which times PyTorch and
 * ONNX Runtime in turns with it) loads the formats, prints "ready", then for
 * each line "run" on stdin runs each format once and prints
 *   tfm <weights> ms=... cos_vs_first=...
 */
#define _POSIX_C_SOURCE 200809L
#include "transformer.h"
#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define V 30522
#define D 768
#define L 12
#define NH 12
#define F 3072
#define P 512

// ---- the random BERT-base folder -----------------------------------------------------

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static int n_weights(bench_tensor *w) {
    int n = 0, l;
#define ADD(nm, r, c, sc, off)                                                                \
    do {                                                                                      \
        if (w) {                                                                              \
            snprintf(w[n].name, sizeof w[n].name, "%s", nm);                                  \
            w[n].rows = r, w[n].cols = c, w[n].scale = sc, w[n].offset = off;                 \
        }                                                                                     \
        n++;                                                                                  \
    } while (0)
    char b[96];
    ADD("bert.embeddings.word_embeddings.weight", V, D, 0.05f, 0);
    ADD("bert.embeddings.position_embeddings.weight", P, D, 0.05f, 0);
    ADD("bert.embeddings.token_type_embeddings.weight", 2, D, 0.05f, 0);
    ADD("bert.embeddings.LayerNorm.weight", D, 0, 0.1f, 1);
    ADD("bert.embeddings.LayerNorm.bias", D, 0, 0.1f, 0);
    for (l = 0; l < L; l++) {
        static const char *lin[6] = {"attention.self.query", "attention.self.key",
                                     "attention.self.value", "attention.output.dense",
                                     "intermediate.dense", "output.dense"};
        int i;
        for (i = 0; i < 6; i++) {
            int64_t o = i == 4 ? F : D, in = i == 5 ? F : D;
            snprintf(b, sizeof b, "bert.encoder.layer.%d.%s.weight", l, lin[i]);
            ADD(b, o, in, 1.7f / (float)(in == F ? 55.4 : 27.7), 0); // ~ 1/sqrt(in) * sqrt(3)
            snprintf(b, sizeof b, "bert.encoder.layer.%d.%s.bias", l, lin[i]);
            ADD(b, o, 0, 0.05f, 0);
            if (i == 3 || i == 5) {
                snprintf(b, sizeof b, "bert.encoder.layer.%d.%s.LayerNorm.weight", l,
                         i == 3 ? "attention.output" : "output");
                ADD(b, D, 0, 0.1f, 1);
                snprintf(b, sizeof b, "bert.encoder.layer.%d.%s.LayerNorm.bias", l,
                         i == 3 ? "attention.output" : "output");
                ADD(b, D, 0, 0.1f, 0);
            }
        }
    }
    ADD("bert.pooler.dense.weight", D, D, 0.06f, 0);
    ADD("bert.pooler.dense.bias", D, 0, 0.05f, 0);
#undef ADD
    return n;
}

static int write_folder(const char *dir) {
    char path[1024];
    FILE *f;
    int n = n_weights(NULL), i, rc;
    bench_tensor *w = (bench_tensor *)calloc((size_t)n, sizeof *w);
    if (!w) return 1;
    n_weights(w);
    snprintf(path, sizeof path, "mkdir -p '%s'", dir);
    if (system(path) != 0) return 1;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!(f = fopen(path, "w"))) return 1;
    fprintf(f, "{\"architectures\": [\"BertModel\"], \"model_type\": \"bert\", \"vocab_size\": %d, "
               "\"hidden_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d, "
               "\"intermediate_size\": %d, \"hidden_act\": \"gelu\", \"max_position_embeddings\": "
               "%d, \"type_vocab_size\": 2, \"layer_norm_eps\": 1e-12, \"pad_token_id\": 0}\n",
            V, D, L, NH, F, P);
    fclose(f);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    if (!(f = fopen(path, "w"))) return 1;
    fprintf(f, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    for (i = 5; i < V; i++) fprintf(f, "w%d\n", i);
    fclose(f);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    rc = bench_write_safetensors(path, w, n, &g_rng, 0);
    free(w);
    return rc;
}

// ---- loading and timing ------------------------------------------------------------------

static int parse_list(const char *s, int *v, int max) {
    int n = 0;
    while (*s && n < max) {
        v[n++] = atoi(s);
        while (*s && *s != ',') s++;
        if (*s == ',') s++;
    }
    return n;
}

static const char *const weight_names[6] = {"stored", "f32", "f16", "bf16", "q8", "q4"};
#define MAX_W 6

// Mean over the S tokens of the cosine of a's hidden state with ref's.
static double mean_cos(const float *a, const float *ref, int S) {
    double sum = 0;
    int s, i;
    for (s = 0; s < S; s++) {
        double ab = 0, aa = 0, bb = 0;
        for (i = 0; i < D; i++) {
            ab += (double)a[s * D + i] * ref[s * D + i];
            aa += (double)a[s * D + i] * a[s * D + i];
            bb += (double)ref[s * D + i] * ref[s * D + i];
        }
        sum += ab / sqrt(aa * bb);
    }
    return sum / S;
}

static int run(const char *dir, const int *seqs, int n_seq, const int *thr, int n_thr, int runs,
               const char *dump, const int *weights, int n_w, int serve) {
    int si, ti, r, k, rc = 0;
    for (ti = 0; ti < n_thr; ti++) {
        tfm_ctx_params cp = tfm_ctx_params_default();
        tfm_ctx *ctx;
        tfm_model *m[MAX_W] = {NULL};
        tfm_status st;
        cp.n_threads = thr[ti];
        if (tfm_ctx_create(&cp, &ctx)) return 1;
        for (k = 0; k < n_w; k++) {
            tfm_model_params mp = tfm_model_params_default();
            mp.weights = weights[k];
            if ((st = tfm_model_load(ctx, dir, &mp, &m[k]))) {
                fprintf(stderr, "bert: %s: %s\n", tfm_status_str(st), tfm_ctx_last_error(ctx));
                rc = 1;
                break;
            }
        }
        for (si = 0; !rc && si < n_seq; si++) {
            int S = seqs[si], i;
            int32_t *ids = (int32_t *)malloc((size_t)S * sizeof(int32_t));
            float *hid[MAX_W];
            double *t[MAX_W], flops, cosv[MAX_W];
            char line[64];
            tfm_encode_outputs o = tfm_encode_outputs_default();
            for (i = 0; i < S; i++) ids[i] = 5 + (int32_t)((i * 7919u) % (V - 5));
            ids[0] = 2;
            ids[S - 1] = 3;
            for (k = 0; k < n_w; k++) {
                hid[k] = (float *)malloc((size_t)S * D * sizeof(float));
                t[k] = (double *)malloc((size_t)(runs + 1) * sizeof(double));
            }
            // r = 0 is the warm-up; then the formats take turns.
            for (r = 0; !rc && (serve || r <= runs); r++) {
                if (serve && r > 0) {
                    if (!fgets(line, sizeof line, stdin) || strncmp(line, "run", 3) != 0) break;
                }
                for (k = 0; k < n_w; k++) {
                    double t0 = bench_now();
                    o.hidden = hid[k];
                    if ((st = tfm_model_encode(ctx, m[k], ids, NULL, NULL, 1, S, &o))) {
                        fprintf(stderr, "bert: %s\n", tfm_ctx_last_error(ctx));
                        rc = 1;
                        break;
                    }
                    t[k][serve ? 0 : r] = bench_now() - t0;
                    if (r == 0) cosv[k] = mean_cos(hid[k], hid[0], S);
                    if (serve && r > 0)
                        printf("tfm %s ms=%.2f cos_vs_first=%.6f\n", weight_names[weights[k]],
                               1e3 * t[k][0], cosv[k]);
                }
                if (serve) {
                    if (r == 0) printf("ready\n");
                    fflush(stdout);
                }
            }
            for (k = 0; !rc && !serve && k < n_w; k++) {
                qsort(t[k] + 1, (size_t)runs, sizeof(double), bench_cmp_d); // t[0]: warm-up
                // Matmuls 2*S*(4*D*D + 2*D*F) per layer, attention 2*2*S*S*D.
                flops = (double)L * (2.0 * S * (4.0 * D * D + 2.0 * D * F) + 4.0 * S * (double)S * D);
                printf("bert seq=%d threads=%d weights=%s median_ms=%.2f min_ms=%.2f gflops=%.1f "
                       "runs=%d", S, thr[ti], weight_names[weights[k]], 1e3 * t[k][1 + runs / 2],
                       1e3 * t[k][1], flops / t[k][1 + runs / 2] * 1e-9, runs);
                if (n_w > 1) printf(" cos_vs_first=%.6f", cosv[k]);
                printf("\n");
                fflush(stdout);
            }
            if (!rc && dump && si == 0 && ti == 0) {
                FILE *f = fopen(dump, "wb");
                if (f) {
                    fwrite(hid[0], sizeof(float), (size_t)S * D, f);
                    fclose(f);
                }
            }
            free(ids);
            for (k = 0; k < n_w; k++) {
                free(hid[k]);
                free(t[k]);
            }
        }
        for (k = 0; k < n_w; k++) tfm_model_free(m[k]);
        tfm_ctx_free(ctx);
        if (rc) break;
    }
    return rc;
}

int main(int argc, char **argv) {
    int seqs[8] = {32, 128, 512}, thr[8] = {1, 2}, n_seq = 3, n_thr = 2, runs = 5, i, rc;
    int weights[MAX_W] = {0}, n_w = 1, serve = 0;
    const char *dir = NULL, *dump = NULL;
    char tmp[256];
    if (argc == 3 && !strcmp(argv[1], "--write")) return write_folder(argv[2]);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seq") && i + 1 < argc) n_seq = parse_list(argv[++i], seqs, 8);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) n_thr = parse_list(argv[++i], thr, 8);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
        else if (!strcmp(argv[i], "--serve")) serve = 1;
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc) {
            char list[128], *w, *save = NULL;
            snprintf(list, sizeof list, "%s", argv[++i]);
            for (n_w = 0, w = strtok_r(list, ",", &save); w && n_w < MAX_W;
                 w = strtok_r(NULL, ",", &save), n_w++) {
                for (weights[n_w] = 0; weights[n_w] < 6 && strcmp(w, weight_names[weights[n_w]]);
                     weights[n_w]++) {}
                if (weights[n_w] == 6) {
                    fprintf(stderr, "bert: --weights takes stored, f32, f16, bf16, q8 or q4 "
                                    "(a list: f32,q8,q4)\n");
                    return 2;
                }
            }
        }
        else if (argv[i][0] != '-') dir = argv[i];
        else {
            fprintf(stderr, "usage: bert [--write DIR | DIR [--seq 32,128,512] [--threads 1,2] "
                            "[--runs N] [--dump FILE] [--weights stored|f32|f16|bf16|q8|q4[,...]] "
                            "[--serve]]\n");
            return 2;
        }
    }
    if (runs < 1) runs = 1;
    if (n_w < 1) return 2;
    for (i = 0; i < n_seq; i++)
        if (seqs[i] < 1 || seqs[i] > P) return 2;
    if (serve && (!dir || n_seq != 1 || n_thr != 1)) {
        fprintf(stderr, "bert: --serve needs DIR, one --seq and one --threads\n");
        return 2;
    }
    if (dir) return run(dir, seqs, n_seq, thr, n_thr, runs, dump, weights, n_w, serve);
    snprintf(tmp, sizeof tmp, "/tmp/tfm_bench_bert_%d", (int)getpid());
    fprintf(stderr, "bert: writing a random BERT-base folder to %s\n", tmp);
    rc = write_folder(tmp) || run(tmp, seqs, n_seq, thr, n_thr, runs, dump, weights, n_w, 0);
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '/tmp/tfm_bench_bert_%d'", (int)getpid());
        if (system(cmd) != 0) rc = 1;
    }
    return rc;
}
