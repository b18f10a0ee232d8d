/*
 * bench/decode: text generation speed of a GPT-2-small-shaped decoder
 * (12 layers, width 768, 12 heads, 3072, vocabulary 50257, 1024 positions;
 * random weights from a fixed seed written at run time as a Hugging Face
 * folder in a scratch directory, deleted at the end), next to the machine's
 * limit and PyTorch in the same run:
 *   - prompt (prefill) tokens/s: P prompt tokens as one batch;
 *   - decode tokens/s: G greedy steps after the prompt, one token each;
 *   - the bandwidth floor: a decoding step reads every weight once, so it
 *     cannot beat (read bandwidth) / (weight bytes) tokens/s; the read
 *     bandwidth is measured here (bench_util.h) on the same thread count;
 *   - PyTorch (bench/decode_torch.py, Debian's python3-torch, run with
 *     OMP_WAIT_POLICY=PASSIVE and torch.set_num_threads(n)): the same GPT-2
 *     forward with a KV cache in plain torch, on the same weights;
 * for 1 and 2 threads, with the weights prepacked at load (the default) and
 * used in place (prepack = 0), and the same weights written as an F16 file,
 * whose matrices the library keeps as stored (half the bytes per token). Every figure is the median of --reps runs
 * after a warm-up; the four measurements take turns, one run of each per
 * repetition, so load from other processes hits them alike. The output is a
 * Markdown table for docs/PERFORMANCE.md.
 *
 *   decode [--reps N] [--prompt P] [--gen G] [--no-torch] [--quick]
 *          [--keep DIR] [--torch-script PATH]
 *
 * --keep DIR writes the folder to DIR and leaves it there. The Python
 * script is looked for at bench/decode_torch.py (run from the repository
 * root, as bench/run.sh does) unless --torch-script names it.
 */
#define _POSIX_C_SOURCE 200809L
#include "transformer.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define V 50257
#define D 768
#define L 12
#define NH 12
#define F 3072
#define NPOS 1024

// ---- the random GPT-2 folder -------------------------------------------------------------

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;

// The tensors of a GPT-2 checkpoint (Conv1D weights stored [in, out]), with
// the uniform scale of their random values (GPT-2's init: std 0.02).
static int n_weights(bench_tensor *w) {
    int n = 0, l;
    char b[64];
#define ADD(nm, r, c, sc, off)                                                                \
    do {                                                                                      \
        if (w) {                                                                              \
            snprintf(w[n].name, sizeof w[n].name, "%s", nm);                                  \
            w[n].rows = r, w[n].cols = c, w[n].scale = sc, w[n].offset = off;                 \
        }                                                                                     \
        n++;                                                                                  \
    } while (0)
#define ADDL(sfx, r, c, sc, off)                                                              \
    do {                                                                                      \
        snprintf(b, sizeof b, "h.%d.%s", l, sfx);                                             \
        ADD(b, r, c, sc, off);                                                                \
    } while (0)
    ADD("wte.weight", V, D, 0.035f, 0);
    ADD("wpe.weight", NPOS, D, 0.02f, 0);
    for (l = 0; l < L; l++) {
        ADDL("ln_1.weight", D, 0, 0.1f, 1);
        ADDL("ln_1.bias", D, 0, 0.02f, 0);
        ADDL("attn.c_attn.weight", D, 3 * D, 0.035f, 0);
        ADDL("attn.c_attn.bias", 3 * D, 0, 0.02f, 0);
        ADDL("attn.c_proj.weight", D, D, 0.035f, 0);
        ADDL("attn.c_proj.bias", D, 0, 0.02f, 0);
        ADDL("ln_2.weight", D, 0, 0.1f, 1);
        ADDL("ln_2.bias", D, 0, 0.02f, 0);
        ADDL("mlp.c_fc.weight", D, F, 0.035f, 0);
        ADDL("mlp.c_fc.bias", F, 0, 0.02f, 0);
        ADDL("mlp.c_proj.weight", F, D, 0.035f, 0);
        ADDL("mlp.c_proj.bias", D, 0, 0.02f, 0);
    }
    ADD("ln_f.weight", D, 0, 0.1f, 1);
    ADD("ln_f.bias", D, 0, 0.02f, 0);
#undef ADDL
#undef ADD
    return n;
}

// The folder: config.json and model.safetensors in F32 (f16 0) or F16.
static int write_folder(const char *dir, int f16) {
    char path[1200];
    FILE *f;
    int n = n_weights(NULL), rc;
    bench_tensor *w = (bench_tensor *)calloc((size_t)n, sizeof *w);
    if (!w) return 1;
    n_weights(w);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!(f = fopen(path, "w"))) return 1;
    fprintf(f, "{\"architectures\": [\"GPT2LMHeadModel\"], \"model_type\": \"gpt2\", "
               "\"vocab_size\": %d, \"n_embd\": %d, \"n_layer\": %d, \"n_head\": %d, "
               "\"n_positions\": %d, \"n_ctx\": %d, \"activation_function\": \"gelu_new\", "
               "\"layer_norm_epsilon\": 1e-05, \"bos_token_id\": 50256, "
               "\"eos_token_id\": 50256}\n", V, D, L, NH, NPOS, NPOS);
    fclose(f);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    g_rng = 0x2545F4914F6CDD1Dull; // the same values in both formats
    rc = bench_write_safetensors(path, w, n, &g_rng, f16);
    free(w);
    return rc;
}

// ---- timing ---------------------------------------------------------------------------------
//
// The runs of libtransformer (packed and in place), of PyTorch and of the
// bandwidth loop are interleaved, one repetition of each in turn, so that a
// busy moment on a shared machine slows them alike and the ratios hold.

static int g_reps = 5, g_prompt = 128, g_gen = 32;

typedef struct result {
    double prefill_tps, decode_tps;
    int32_t next; // greedy token after the prompt (to compare with PyTorch)
} result;

static int32_t argmax(const float *x, int32_t n) {
    int32_t i, b = 0;
    for (i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

// One run on a session: the prompt as one batch, then `gen` greedy steps.
static int run_once(tfm_session *s, const int32_t *prompt, int gen, result *res) {
    double t0, t1, t2;
    int32_t tok;
    int g;
    tfm_session_reset(s);
    t0 = bench_now();
    if (tfm_session_prefill(s, prompt, g_prompt, NULL)) return 0;
    t1 = bench_now();
    tok = argmax(tfm_session_logits(s), V);
    res->next = tok;
    for (g = 0; g < gen; g++) {
        if (tfm_session_step(s, tok, NULL)) return 0;
        tok = argmax(tfm_session_logits(s), V);
    }
    t2 = bench_now();
    res->prefill_tps = g_prompt / (t1 - t0);
    res->decode_tps = gen / (t2 - t1);
    return 1;
}

// PyTorch: bench/decode_torch.py --serve in a child process, one run per
// "run" line written to it.
typedef struct torch_proc {
    pid_t pid;
    FILE *to, *from;
} torch_proc;

static int torch_start(torch_proc *t, const char *script, const char *dir, int nt) {
    int in[2], out[2];
    char a_nt[16], a_p[16], a_g[16];
    char line[256];
    memset(t, 0, sizeof *t);
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "decode: %s not found: no PyTorch figures\n", script);
        return 0;
    }
    if (pipe(in) || pipe(out)) return 0;
    snprintf(a_nt, sizeof a_nt, "%d", nt);
    snprintf(a_p, sizeof a_p, "%d", g_prompt);
    snprintf(a_g, sizeof a_g, "%d", g_gen);
    fflush(stdout);
    t->pid = fork();
    if (t->pid < 0) return 0;
    if (t->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execl("/usr/bin/python3", "python3", script, "--serve", "--model", dir, "--threads",
              a_nt, "--prompt", a_p, "--gen", a_g, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    t->to = fdopen(in[1], "w");
    t->from = fdopen(out[0], "r");
    if (!t->to || !t->from || !fgets(line, sizeof line, t->from) ||
        strncmp(line, "ready", 5) != 0) {
        fprintf(stderr, "decode: PyTorch (%s) did not start\n", script);
        return 0;
    }
    return 1;
}

static int torch_run(torch_proc *t, int gen, result *res) {
    char line[256];
    int nx;
    if (!t->to) return 0;
    fprintf(t->to, "run %d\n", gen);
    fflush(t->to);
    if (!fgets(line, sizeof line, t->from) ||
        sscanf(line, "torch prefill_tps=%lf decode_tps=%lf next=%d", &res->prefill_tps,
               &res->decode_tps, &nx) != 3) {
        fprintf(stderr, "decode: PyTorch run failed\n");
        return 0;
    }
    res->next = nx;
    return 1;
}

static void torch_stop(torch_proc *t) {
    int status;
    if (t->to) fclose(t->to); // EOF: the script exits
    if (t->from) fclose(t->from);
    if (t->pid > 0) waitpid(t->pid, &status, 0);
    memset(t, 0, sizeof *t);
}

// Medians of g_reps interleaved runs on nt threads of each of the nm models
// (into res[i]), PyTorch (when `script`; into *rt) and read bandwidth.
static int measure(const tfm_model *const *ms, int nm, const char *script, const char *dir,
                   int nt, const int32_t *prompt, result *res, result *rt, int *have_t,
                   double *bw) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_session_params sp = tfm_session_params_default();
    tfm_ctx *ctx = NULL;
    tfm_session *ss[4] = {NULL, NULL, NULL, NULL};
    torch_proc tp;
    double v[10][64];
    result a, c;
    int r, i, ok = 0;
    memset(&tp, 0, sizeof tp);
    *have_t = 0;
    cp.n_threads = nt;
    sp.max_context = g_prompt + g_gen + 1;
    if (tfm_ctx_create(&cp, &ctx)) goto done;
    for (i = 0; i < nm; i++)
        if (tfm_session_create(ctx, ms[i], &sp, &ss[i])) goto done;
    if (script) *have_t = torch_start(&tp, script, dir, nt);
    // warm-up: short runs
    for (i = 0; i < nm; i++)
        if (!run_once(ss[i], prompt, 2, &res[i])) goto done;
    if (*have_t && !torch_run(&tp, 2, rt)) *have_t = 0;
    for (r = 0; r < g_reps; r++) {
        bw[r] = bench_read_bw(nt, (size_t)1 << 30, 1);
        for (i = 0; i < nm; i++) {
            if (!run_once(ss[i], prompt, g_gen, &a)) goto done;
            v[2 * i][r] = a.prefill_tps;
            v[2 * i + 1][r] = a.decode_tps;
        }
        if (*have_t && !torch_run(&tp, g_gen, &c)) *have_t = 0;
        v[8][r] = c.prefill_tps;
        v[9][r] = c.decode_tps;
    }
    for (i = 0; i < nm; i++) {
        res[i].prefill_tps = bench_median(v[2 * i], g_reps);
        res[i].decode_tps = bench_median(v[2 * i + 1], g_reps);
    }
    if (*have_t) {
        rt->prefill_tps = bench_median(v[8], g_reps);
        rt->decode_tps = bench_median(v[9], g_reps);
    }
    ok = 1;
done:
    if (!ok) fprintf(stderr, "decode: %s\n", tfm_ctx_last_error(ctx));
    torch_stop(&tp);
    for (i = 0; i < nm; i++) tfm_session_free(ss[i]);
    tfm_ctx_free(ctx);
    return ok;
}

static tfm_status load(tfm_ctx *ctx, const char *dir, int prepack, tfm_model **m) {
    tfm_model_params mp = tfm_model_params_default();
    mp.no_tokenizer = 1;
    mp.prepack = prepack;
    return tfm_model_load(ctx, dir, &mp, m);
}

int main(int argc, char **argv) {
    const char *keep = NULL, *script = "bench/decode_torch.py";
    char dir[1024], dir16[1100], cmd[2300];
    int torch = 1, quick = 0, i, nt;
    tfm_ctx *lctx = NULL;
    tfm_model *ms[3] = {NULL, NULL, NULL}; // f32 packed, f32 in place, f16
    int32_t *prompt;
    double bw[3], t0, t_pack;
    uint64_t wbytes, wbytes16;
    result res[3][3], rt[3];
    int have_t[3] = {0, 0, 0};
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-torch") == 0) torch = 0;
        else if (strcmp(a, "--quick") == 0) quick = 1;
        else if (v && strcmp(a, "--reps") == 0) g_reps = atoi(argv[++i]);
        else if (v && strcmp(a, "--prompt") == 0) g_prompt = atoi(argv[++i]);
        else if (v && strcmp(a, "--gen") == 0) g_gen = atoi(argv[++i]);
        else if (v && strcmp(a, "--keep") == 0) keep = argv[++i];
        else if (v && strcmp(a, "--torch-script") == 0) script = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--reps N] [--prompt P] [--gen G] [--no-torch] [--quick] "
                            "[--keep DIR] [--torch-script PATH]\n", argv[0]);
            return 2;
        }
    }
    if (quick) {
        g_reps = 3;
        g_prompt = 32;
        g_gen = 8;
    }
    if (g_reps < 1 || g_reps > 63 || g_prompt < 1 || g_gen < 1 || g_prompt + g_gen >= NPOS) {
        fprintf(stderr, "decode: need 1 <= reps <= 63, prompt, gen >= 1, prompt + gen < %d\n",
                NPOS);
        return 2;
    }
    if (keep) {
        snprintf(dir, sizeof dir, "%s", keep);
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
        if (system(cmd) != 0) return 1;
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/tfm_decode_XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            perror("decode: mkdtemp");
            return 1;
        }
    }
    t0 = bench_now();
    snprintf(dir16, sizeof dir16, "%s/f16", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir16);
    if (write_folder(dir, 0) || system(cmd) != 0 || write_folder(dir16, 1)) {
        fprintf(stderr, "decode: cannot write the model to %s\n", dir);
        return 1;
    }
    printf("libtransformer %s, kernels %s; GPT-2-small shape (random weights written to %s in "
           "%.1f s)\n", tfm_version_string(), tfm_kernels_name(), dir, bench_now() - t0);
    prompt = (int32_t *)malloc((size_t)g_prompt * sizeof(int32_t));
    for (i = 0; i < g_prompt; i++) prompt[i] = (int32_t)((i * 7919u + 13u) % V);

    if (tfm_ctx_create(NULL, &lctx)) return 1;
    t0 = bench_now();
    if (load(lctx, dir, 1, &ms[0])) {
        fprintf(stderr, "decode: load: %s\n", tfm_ctx_last_error(lctx));
        return 1;
    }
    t_pack = bench_now() - t0;
    if (load(lctx, dir, 0, &ms[1]) || load(lctx, dir16, 1, &ms[2])) {
        fprintf(stderr, "decode: load: %s\n", tfm_ctx_last_error(lctx));
        return 1;
    }
    wbytes = tfm_model_weight_bytes(ms[0]);
    wbytes16 = tfm_model_weight_bytes(ms[2]);
    printf("weights read per token: %.1f MB (F16 file, kept as stored: %.1f MB); load with "
           "packing %.2f s; prompt %d tokens, %d greedy steps after it; median of %d runs\n\n",
           wbytes / 1e6, wbytes16 / 1e6, t_pack, g_prompt, g_gen, g_reps);
    fflush(stdout);

    for (nt = 1; nt <= 2; nt++) {
        double bws[64];
        if (!measure((const tfm_model *const *)ms, 3, torch ? script : NULL, dir, nt, prompt,
                     res[nt], &rt[nt], &have_t[nt], bws))
            return 1;
        bw[nt] = bench_median(bws, g_reps);
    }
    for (i = 0; i < 3; i++) tfm_model_free(ms[i]);
    tfm_ctx_free(lctx);

    printf("| threads | read GB/s | floor tok/s | decode tok/s: packed | in place | PyTorch "
           "| packed %% of floor | packed / PyTorch | prompt tok/s: packed | in place | PyTorch "
           "| packed / PyTorch |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (nt = 1; nt <= 2; nt++) {
        const result *rp = &res[nt][0], *ru = &res[nt][1];
        double floor_tps = bw[nt] * 1e9 / (double)wbytes;
        char td[32] = "-", tr[32] = "-", tp[32] = "-", tpr[32] = "-";
        if (have_t[nt]) {
            snprintf(td, sizeof td, "%.1f", rt[nt].decode_tps);
            snprintf(tr, sizeof tr, "%.2fx", rp->decode_tps / rt[nt].decode_tps);
            snprintf(tp, sizeof tp, "%.0f", rt[nt].prefill_tps);
            snprintf(tpr, sizeof tpr, "%.2fx", rp->prefill_tps / rt[nt].prefill_tps);
        }
        printf("| %d | %.1f | %.1f | %.1f | %.1f | %s | %.0f%% | %s | %.0f | %.0f | %s | %s |\n",
               nt, bw[nt], floor_tps, rp->decode_tps, ru->decode_tps, td,
               floor_tps > 0 ? 100.0 * rp->decode_tps / floor_tps : 0.0, tr,
               rp->prefill_tps, ru->prefill_tps, tp, tpr);
    }
    printf("\n| threads | F16 floor tok/s | F16 decode tok/s | %% of floor | F16 / F32 packed "
           "| F16 prompt tok/s | F16 / F32 packed |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|\n");
    for (nt = 1; nt <= 2; nt++) {
        const result *rp = &res[nt][0], *rh = &res[nt][2];
        double floor_tps = bw[nt] * 1e9 / (double)wbytes16;
        printf("| %d | %.1f | %.1f | %.0f%% | %.2fx | %.0f | %.2fx |\n", nt, floor_tps,
               rh->decode_tps, floor_tps > 0 ? 100.0 * rh->decode_tps / floor_tps : 0.0,
               rh->decode_tps / rp->decode_tps, rh->prefill_tps,
               rh->prefill_tps / rp->prefill_tps);
    }
    for (nt = 1; nt <= 2; nt++)
        if (have_t[nt])
            printf("%s greedy token after the prompt (%d threads): libtransformer %d, PyTorch %d\n",
                   rt[nt].next == res[nt][0].next ? "same" : "DIFFERENT", nt,
                   (int)res[nt][0].next, (int)rt[nt].next);
    if (!keep) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "decode: could not remove %s\n", dir);
    }
    free(prompt);
    return 0;
}
