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
 *   - llama.cpp (with --llamacpp PYTHON: bench/anchors_llamacpp.py run by
 *     that interpreter, which has the llama-cpp-python and gguf packages):
 *     the same weights written as GGUF files in F16, Q8_0 and Q4_0;
 * for 1 and 2 threads, with the weights prepacked at load (the default) and
 * used in place (prepack = 0), the same weights written as an F16 file
 * (kept as stored: half the bytes per token), and as the Q8 and Q4 folders
 * tfm_model_quantize writes from the F32 one (mapped, no conversion), each
 * beside its own bandwidth floor and its resident memory (VmRSS of a fresh
 * process that loads the model and runs the prompt and the steps). Every
 * figure is the median of --reps runs after a warm-up; the measurements
 * take turns, one run of each per repetition, so load from other processes
 * hits them alike. The output is Markdown tables for docs/PERFORMANCE.md.
 *
 *   decode [--reps N] [--prompt P] [--gen G] [--no-torch] [--quick]
 *          [--keep DIR] [--torch-script PATH] [--llamacpp PYTHON]
 *          [--llamacpp-script PATH]
 *
 * --keep DIR writes the folder to DIR and leaves it there. The Python
 * scripts are looked for at bench/decode_torch.py and
 * bench/anchors_llamacpp.py (run from the repository root, as bench/run.sh
 * does) unless --torch-script / --llamacpp-script names them.
 */
#define _POSIX_C_SOURCE 200809L
#include "transformer.h"
#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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

// An anchor in a child process that serves runs: PyTorch
// (bench/decode_torch.py --serve) or llama.cpp (bench/anchors_llamacpp.py
// --serve), one run of each of its models per "run G" line written to it.
typedef struct anchor_proc {
    pid_t pid;
    FILE *to, *from;
} anchor_proc;

// torch_nt > 0: PyTorch's child, with OMP_WAIT_POLICY=PASSIVE and OpenMP's
// and OpenBLAS's thread counts set to torch_nt (OpenBLAS ignores
// torch.set_num_threads); llama.cpp keeps its own thread settings.
static int anchor_start(anchor_proc *t, const char *python, const char *script,
                        char *const *args, int torch_nt) {
    int in[2], out[2], n = 0;
    char line[256];
    const char *argv[24];
    memset(t, 0, sizeof *t);
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "decode: %s not found: no figures from it\n", script);
        return 0;
    }
    argv[n++] = python;
    argv[n++] = script;
    argv[n++] = "--serve";
    while (*args && n < 23) argv[n++] = *args++;
    argv[n] = NULL;
    if (pipe(in) || pipe(out)) return 0;
    fflush(stdout);
    t->pid = fork();
    if (t->pid < 0) return 0;
    if (t->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        if (torch_nt > 0) {
            char nt[16];
            snprintf(nt, sizeof nt, "%d", torch_nt);
            setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
            setenv("OMP_NUM_THREADS", nt, 1);
            setenv("OPENBLAS_NUM_THREADS", nt, 1);
        }
        execv(python, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    // Our ends stay out of the next anchor's process (else its copy of the
    // write end keeps this one from ever seeing EOF).
    fcntl(in[1], F_SETFD, FD_CLOEXEC);
    fcntl(out[0], F_SETFD, FD_CLOEXEC);
    t->to = fdopen(in[1], "w");
    t->from = fdopen(out[0], "r");
    if (!t->to || !t->from || !fgets(line, sizeof line, t->from) ||
        strncmp(line, "ready", 5) != 0) {
        fprintf(stderr, "decode: %s did not start\n", script);
        return 0;
    }
    return 1;
}

static void anchor_stop(anchor_proc *t) {
    int status;
    if (t->to) fclose(t->to); // EOF: the script exits
    if (t->from) fclose(t->from);
    if (t->pid > 0) waitpid(t->pid, &status, 0);
    memset(t, 0, sizeof *t);
}

static int torch_start(anchor_proc *t, const char *script, const char *dir, int nt) {
    static char a_nt[16], a_p[16], a_g[16], a_dir[1100];
    char *args[] = {"--model", a_dir, "--threads", a_nt, "--prompt", a_p, "--gen", a_g, NULL};
    snprintf(a_dir, sizeof a_dir, "%s", dir);
    snprintf(a_nt, sizeof a_nt, "%d", nt);
    snprintf(a_p, sizeof a_p, "%d", g_prompt);
    snprintf(a_g, sizeof a_g, "%d", g_gen);
    return anchor_start(t, "/usr/bin/python3", script, args, nt);
}

static int torch_run(anchor_proc *t, int gen, result *res) {
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

// llama.cpp's formats, in the order of its lines and of our F16, Q8, Q4.
#define N_LCPP 3
static const char *const g_lcpp_fmt[N_LCPP] = {"f16", "q8_0", "q4_0"};

static int lcpp_start(anchor_proc *t, const char *python, const char *script, const char *dir,
                      int nt) {
    static char a_nt[16], a_p[16], a_g[16], a_dir[1100];
    char *args[] = {a_dir, "--threads", a_nt, "--prompt", a_p, "--gen", a_g, NULL};
    snprintf(a_dir, sizeof a_dir, "%s", dir);
    snprintf(a_nt, sizeof a_nt, "%d", nt);
    snprintf(a_p, sizeof a_p, "%d", g_prompt);
    snprintf(a_g, sizeof a_g, "%d", g_gen);
    return anchor_start(t, python, script, args, 0);
}

static int lcpp_run(anchor_proc *t, int gen, result *res) {
    char line[256], fmt[16];
    int i, n;
    if (!t->to) return 0;
    fprintf(t->to, "run %d\n", gen);
    fflush(t->to);
    for (i = 0; i < N_LCPP; i++)
        if (!fgets(line, sizeof line, t->from) ||
            sscanf(line, "llamacpp %15s threads=%d prompt_tok_s=%lf decode_tok_s=%lf", fmt, &n,
                   &res[i].prefill_tps, &res[i].decode_tps) != 4 ||
            strcmp(fmt, g_lcpp_fmt[i]) != 0) {
            fprintf(stderr, "decode: llama.cpp run failed (%s)\n", line);
            return 0;
        }
    return 1;
}

// Medians of g_reps interleaved runs on nt threads of each of the nm models
// (into res[i]), PyTorch (when `script`; into *rt), llama.cpp (when
// `lpy`; into lr[N_LCPP]) and read bandwidth.
#define MAX_MODELS 5
static int measure(const tfm_model *const *ms, int nm, const char *script, const char *lpy,
                   const char *lscript, const char *dir, int nt, const int32_t *prompt,
                   result *res, result *rt, int *have_t, result *lr, int *have_l, double *bw) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_session_params sp = tfm_session_params_default();
    tfm_ctx *ctx = NULL;
    tfm_session *ss[MAX_MODELS] = {NULL, NULL, NULL, NULL, NULL};
    anchor_proc tp, lp;
    double v[2 * (MAX_MODELS + 1 + N_LCPP)][64];
    result a, c, l[N_LCPP];
    int r, i, ok = 0;
    memset(&tp, 0, sizeof tp);
    memset(&lp, 0, sizeof lp);
    *have_t = *have_l = 0;
    cp.n_threads = nt;
    sp.max_context = g_prompt + g_gen + 1;
    if (tfm_ctx_create(&cp, &ctx)) goto done;
    for (i = 0; i < nm; i++)
        if (tfm_session_create(ctx, ms[i], &sp, &ss[i])) goto done;
    if (script) *have_t = torch_start(&tp, script, dir, nt);
    if (lpy) *have_l = lcpp_start(&lp, lpy, lscript, dir, nt);
    // warm-up: short runs
    for (i = 0; i < nm; i++)
        if (!run_once(ss[i], prompt, 2, &res[i])) goto done;
    if (*have_t && !torch_run(&tp, 2, rt)) *have_t = 0;
    if (*have_l && !lcpp_run(&lp, 2, l)) *have_l = 0;
    for (r = 0; r < g_reps; r++) {
        bw[r] = bench_read_bw(nt, (size_t)1 << 30, 1);
        for (i = 0; i < nm; i++) {
            if (!run_once(ss[i], prompt, g_gen, &a)) goto done;
            v[2 * i][r] = a.prefill_tps;
            v[2 * i + 1][r] = a.decode_tps;
        }
        if (*have_t && !torch_run(&tp, g_gen, &c)) *have_t = 0;
        v[2 * MAX_MODELS][r] = c.prefill_tps;
        v[2 * MAX_MODELS + 1][r] = c.decode_tps;
        if (*have_l && !lcpp_run(&lp, g_gen, l)) *have_l = 0;
        for (i = 0; *have_l && i < N_LCPP; i++) {
            v[2 * (MAX_MODELS + 1 + i)][r] = l[i].prefill_tps;
            v[2 * (MAX_MODELS + 1 + i) + 1][r] = l[i].decode_tps;
        }
    }
    for (i = 0; i < nm; i++) {
        res[i].prefill_tps = bench_median(v[2 * i], g_reps);
        res[i].decode_tps = bench_median(v[2 * i + 1], g_reps);
    }
    if (*have_t) {
        rt->prefill_tps = bench_median(v[2 * MAX_MODELS], g_reps);
        rt->decode_tps = bench_median(v[2 * MAX_MODELS + 1], g_reps);
    }
    for (i = 0; *have_l && i < N_LCPP; i++) {
        lr[i].prefill_tps = bench_median(v[2 * (MAX_MODELS + 1 + i)], g_reps);
        lr[i].decode_tps = bench_median(v[2 * (MAX_MODELS + 1 + i) + 1], g_reps);
    }
    ok = 1;
done:
    if (!ok) fprintf(stderr, "decode: %s\n", tfm_ctx_last_error(ctx));
    anchor_stop(&tp);
    anchor_stop(&lp);
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

// --rss DIR: load DIR (as stored, prepacked), run the prompt and the steps
// on 1 thread, print this process's resident memory.
static int rss_child(const char *dir, const int32_t *prompt) {
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_session_params sp = tfm_session_params_default();
    result r;
    char line[256];
    long kb = -1;
    FILE *f;
    sp.max_context = g_prompt + g_gen + 1;
    if (tfm_ctx_create(NULL, &ctx) || load(ctx, dir, 1, &m) ||
        tfm_session_create(ctx, m, &sp, &s) || !run_once(s, prompt, g_gen, &r))
        return 1;
    if ((f = fopen("/proc/self/status", "r")) != NULL) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
        fclose(f);
    }
    printf("rss_kb=%ld\n", kb);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return 0;
}

// Resident memory (MB) of a fresh process running the model at dir.
static double rss_of(const char *dir) {
    char cmd[2400], line[256], self[1024];
    long kb = -1;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    FILE *f;
    if (n <= 0) return -1;
    self[n] = 0;
    if (snprintf(cmd, sizeof cmd, "'%s' --rss '%s' --prompt %d --gen %d", self, dir, g_prompt,
                 g_gen) >= (int)sizeof cmd)
        return -1;
    if (!(f = popen(cmd, "r"))) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "rss_kb=%ld", &kb) == 1) break;
    pclose(f);
    return kb < 0 ? -1.0 : kb / 1024.0;
}

// Teacher-forced agreement with F32 over the prompt: for each model, the
// next-token distribution at every prompt position against F32's: top-1
// agreement, mean KL(F32 || model) and mean cosine of the logit vectors.
static void quality(tfm_model *const *ms, const int *idx, const char *const *names, int n,
                    const int32_t *prompt) {
    tfm_ctx *ctx = NULL;
    float *lg[8];
    int i, k;
    if (tfm_ctx_create(NULL, &ctx)) return;
    for (k = 0; k < n; k++) {
        tfm_session *s = NULL;
        tfm_session_params sp = tfm_session_params_default();
        sp.max_context = g_prompt + 1;
        lg[k] = (float *)malloc((size_t)g_prompt * V * sizeof(float));
        if (tfm_session_create(ctx, ms[idx[k]], &sp, &s) ||
            tfm_session_prefill(s, prompt, g_prompt, lg[k])) {
            fprintf(stderr, "decode: quality: %s\n", tfm_ctx_last_error(ctx));
            return;
        }
        tfm_session_free(s);
    }
    printf("\n| format | top-1 agreement with F32 | mean KL(F32 \\|\\| format) | mean cosine of "
           "the logits |\n|---|---:|---:|---:|\n");
    for (k = 1; k < n; k++) {
        double kl = 0, cs = 0;
        int agree = 0;
        for (i = 0; i < g_prompt; i++) {
            const float *p = lg[0] + (size_t)i * V, *q = lg[k] + (size_t)i * V;
            double mp = p[0], mq = q[0], zp = 0, zq = 0, pq = 0, pp = 0, qq = 0;
            int32_t j;
            for (j = 0; j < V; j++) {
                mp = p[j] > mp ? p[j] : mp;
                mq = q[j] > mq ? q[j] : mq;
            }
            for (j = 0; j < V; j++) {
                zp += exp(p[j] - mp);
                zq += exp(q[j] - mq);
                pq += (double)p[j] * q[j];
                pp += (double)p[j] * p[j];
                qq += (double)q[j] * q[j];
            }
            for (j = 0; j < V; j++) {
                double lp = p[j] - mp - log(zp), lq = q[j] - mq - log(zq);
                kl += exp(lp) * (lp - lq);
            }
            cs += pq / sqrt(pp * qq);
            agree += argmax(p, V) == argmax(q, V);
        }
        printf("| %s | %.4f | %.2e | %.6f |\n", names[idx[k]], (double)agree / g_prompt,
               kl / g_prompt, cs / g_prompt);
    }
    for (k = 0; k < n; k++) free(lg[k]);
    tfm_ctx_free(ctx);
}

// The models measured, in order.
enum { M_F32, M_F32_INPLACE, M_F16, M_Q8, M_Q4, N_MODELS };
static const char *const g_mname[N_MODELS] = {"F32", "F32 in place", "F16", "Q8", "Q4"};

int main(int argc, char **argv) {
    const char *keep = NULL, *script = "bench/decode_torch.py", *rss = NULL;
    const char *lpy = NULL, *lscript = "bench/anchors_llamacpp.py";
    char dir[1024], sub[N_MODELS][1100], cmd[2300];
    int torch = 1, quick = 0, i, nt;
    tfm_ctx *lctx = NULL;
    tfm_model *ms[N_MODELS];
    int32_t *prompt;
    double bw[3], t0, t_pack, t_quant, mem[N_MODELS];
    uint64_t wb[N_MODELS];
    result res[3][N_MODELS], rt[3], lr[3][N_LCPP];
    int have_t[3] = {0, 0, 0}, have_l[3] = {0, 0, 0};
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-torch") == 0) torch = 0;
        else if (strcmp(a, "--quick") == 0) quick = 1;
        else if (v && strcmp(a, "--reps") == 0) g_reps = atoi(argv[++i]);
        else if (v && strcmp(a, "--prompt") == 0) g_prompt = atoi(argv[++i]);
        else if (v && strcmp(a, "--gen") == 0) g_gen = atoi(argv[++i]);
        else if (v && strcmp(a, "--keep") == 0) keep = argv[++i];
        else if (v && strcmp(a, "--torch-script") == 0) script = argv[++i];
        else if (v && strcmp(a, "--llamacpp") == 0) lpy = argv[++i];
        else if (v && strcmp(a, "--llamacpp-script") == 0) lscript = argv[++i];
        else if (v && strcmp(a, "--rss") == 0) rss = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--reps N] [--prompt P] [--gen G] [--no-torch] [--quick] "
                            "[--keep DIR] [--torch-script PATH] [--llamacpp PYTHON] "
                            "[--llamacpp-script PATH]\n", argv[0]);
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
    prompt = (int32_t *)malloc((size_t)g_prompt * sizeof(int32_t));
    for (i = 0; i < g_prompt; i++) prompt[i] = (int32_t)((i * 7919u + 13u) % V);
    if (rss) return rss_child(rss, prompt);
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
    snprintf(sub[M_F32], sizeof sub[0], "%s", dir);
    snprintf(sub[M_F32_INPLACE], sizeof sub[0], "%s", dir);
    snprintf(sub[M_F16], sizeof sub[0], "%s/f16", dir);
    snprintf(sub[M_Q8], sizeof sub[0], "%s/q8", dir);
    snprintf(sub[M_Q4], sizeof sub[0], "%s/q4", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", sub[M_F16]);
    if (write_folder(dir, 0) || system(cmd) != 0 || write_folder(sub[M_F16], 1)) {
        fprintf(stderr, "decode: cannot write the model to %s\n", dir);
        return 1;
    }
    printf("libtransformer %s, kernels %s; GPT-2-small shape (random weights written to %s in "
           "%.1f s)\n", tfm_version_string(), tfm_kernels_name(), dir, bench_now() - t0);
    if (tfm_ctx_create(NULL, &lctx)) return 1;
    t0 = bench_now();
    if (tfm_model_quantize(lctx, dir, sub[M_Q8], TFM_WEIGHTS_Q8) ||
        tfm_model_quantize(lctx, dir, sub[M_Q4], TFM_WEIGHTS_Q4)) {
        fprintf(stderr, "decode: quantize: %s\n", tfm_ctx_last_error(lctx));
        return 1;
    }
    t_quant = (bench_now() - t0) / 2;
    for (i = 0; i < N_MODELS; i++) mem[i] = i == M_F32_INPLACE ? -1 : rss_of(sub[i]);

    t0 = bench_now();
    if (load(lctx, dir, 1, &ms[M_F32])) {
        fprintf(stderr, "decode: load: %s\n", tfm_ctx_last_error(lctx));
        return 1;
    }
    t_pack = bench_now() - t0;
    for (i = 1; i < N_MODELS; i++)
        if (load(lctx, sub[i], i != M_F32_INPLACE, &ms[i])) {
            fprintf(stderr, "decode: load %s: %s\n", sub[i], tfm_ctx_last_error(lctx));
            return 1;
        }
    for (i = 0; i < N_MODELS; i++) wb[i] = tfm_model_weight_bytes(ms[i]);
    printf("weights read per token: F32 %.1f MB, F16 %.1f MB, Q8 %.1f MB, Q4 %.1f MB; load "
           "with packing %.2f s; tfm_model_quantize %.2f s a format; prompt %d tokens, %d "
           "greedy steps after it; median of %d runs\n\n", wb[M_F32] / 1e6, wb[M_F16] / 1e6,
           wb[M_Q8] / 1e6, wb[M_Q4] / 1e6, t_pack, t_quant, g_prompt, g_gen, g_reps);
    fflush(stdout);

    for (nt = 1; nt <= 2; nt++) {
        double bws[64];
        if (!measure((const tfm_model *const *)ms, N_MODELS, torch ? script : NULL, lpy,
                     lscript, dir, nt, prompt, res[nt], &rt[nt], &have_t[nt], lr[nt],
                     &have_l[nt], bws))
            return 1;
        bw[nt] = bench_median(bws, g_reps);
    }
    {
        static const int q_idx[4] = {M_F32, M_F16, M_Q8, M_Q4};
        quality(ms, q_idx, g_mname, 4, prompt);
    }
    for (i = 0; i < N_MODELS; i++) tfm_model_free(ms[i]);
    tfm_ctx_free(lctx);

    printf("| threads | read GB/s | floor tok/s | decode tok/s: packed | in place | PyTorch "
           "| packed %% of floor | packed / PyTorch | prompt tok/s: packed | in place | PyTorch "
           "| packed / PyTorch |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (nt = 1; nt <= 2; nt++) {
        const result *rp = &res[nt][M_F32], *ru = &res[nt][M_F32_INPLACE];
        double floor_tps = bw[nt] * 1e9 / (double)wb[M_F32];
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
    printf("\n| threads | format | MB / token | floor tok/s | decode tok/s | %% of floor "
           "| / F32 | llama.cpp decode | / llama.cpp | prompt tok/s | / F32 | llama.cpp "
           "prompt | / llama.cpp | resident MB |\n");
    printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (nt = 1; nt <= 2; nt++)
        for (i = 0; i < N_MODELS; i++) {
            const result *r = &res[nt][i], *rf = &res[nt][M_F32];
            const result *l = i >= M_F16 && have_l[nt] ? &lr[nt][i - M_F16] : NULL;
            double floor_tps = bw[nt] * 1e9 / (double)wb[i];
            char ld[32] = "-", lrd[32] = "-", lp[32] = "-", lrp[32] = "-", rs[32] = "-";
            if (i == M_F32_INPLACE) continue;
            if (l) {
                snprintf(ld, sizeof ld, "%.1f (%s)", l->decode_tps, g_lcpp_fmt[i - M_F16]);
                snprintf(lrd, sizeof lrd, "%.2fx", r->decode_tps / l->decode_tps);
                snprintf(lp, sizeof lp, "%.0f", l->prefill_tps);
                snprintf(lrp, sizeof lrp, "%.2fx", r->prefill_tps / l->prefill_tps);
            }
            if (mem[i] > 0) snprintf(rs, sizeof rs, "%.0f", mem[i]);
            printf("| %d | %s | %.1f | %.1f | %.1f | %.0f%% | %.2fx | %s | %s | %.0f | %.2fx | "
                   "%s | %s | %s |\n", nt, g_mname[i], wb[i] / 1e6, floor_tps, r->decode_tps,
                   floor_tps > 0 ? 100.0 * r->decode_tps / floor_tps : 0.0,
                   r->decode_tps / rf->decode_tps, ld, lrd, r->prefill_tps,
                   r->prefill_tps / rf->prefill_tps, lp, lrp, rs);
        }
    for (nt = 1; nt <= 2; nt++)
        if (have_t[nt])
            printf("%s greedy token after the prompt (%d threads): libtransformer %d, PyTorch %d\n",
                   rt[nt].next == res[nt][M_F32].next ? "same" : "DIFFERENT", nt,
                   (int)res[nt][M_F32].next, (int)rt[nt].next);
    if (!keep) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "decode: could not remove %s\n", dir);
    }
    free(prompt);
    return 0;
}
