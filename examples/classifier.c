/*
 * classifier: the classic transformer text classifier, built from the
 * public layer API of libtransformer alone.
 *
 *   token embedding + learned position embedding      tfm_embed
 *   -> one post-norm transformer block                tfm_encoder_layer
 *      (self-attention, ReLU feed-forward, residual connections, LayerNorm)
 *   -> average pooling over the unpadded positions    tfm_mean_pool
 *   -> dense layer                                    tfm_matmul
 *   -> softmax                                        tfm_softmax
 *
 * The weights come from examples/classifier_export.py, which trains the
 * equivalent PyTorch model on a toy sentiment task and saves its state_dict
 * as safetensors (PyTorch's own tensor names) beside a vocab.txt.
 *
 *   usage: classifier [-d DATA_DIR] ["a sentence" ...]
 *
 * docs/LAYERS.md walks through this file.
 */
#include <transformer.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VOCAB 256
#define MAX_WORD 32

typedef struct classifier {
    tfm_ctx *ctx;
    tfm_safetensors *st;         /* the weights, memory-mapped              */
    tfm_tensor tok, pos;         /* [V, D], [max_len, D]                    */
    tfm_tensor attn[4], ffn[4], norm[4], dense_w, dense_b;
    tfm_encoder_layer *block;
    int64_t max_len, d_model, n_classes;
    char vocab[MAX_VOCAB][MAX_WORD];
    int n_vocab;
    char classes[8][MAX_WORD];
} classifier;

/* Prints the library's message for a failed call and returns 0. */
static int fail(const classifier *c, const char *what) {
    fprintf(stderr, "classifier: %s: %s\n", what, tfm_ctx_last_error(c->ctx));
    return 0;
}

static int get(classifier *c, const char *name, tfm_tensor *t) {
    return tfm_safetensors_get(c->ctx, c->st, name, t) == TFM_OK || fail(c, name);
}

static int64_t meta_int(const classifier *c, const char *key) {
    const char *v = tfm_safetensors_metadata_get(c->st, key);
    return v ? atol(v) : 0;
}

static void classifier_free(classifier *c) {
    tfm_encoder_layer_free(c->block);
    tfm_safetensors_close(c->st);
    c->block = NULL;
    c->st = NULL;
}

/* Loads dir/classifier.safetensors and dir/vocab.txt. Returns 1 on success. */
static int classifier_load(classifier *c, tfm_ctx *ctx, const char *dir) {
    char path[1024], line[256];
    const char *cls;
    FILE *f;
    int ok;
    tfm_layer_params p = tfm_layer_params_default();
    tfm_layer_weights w = tfm_layer_weights_default();

    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    snprintf(path, sizeof path, "%s/classifier.safetensors", dir);
    if (tfm_safetensors_open(ctx, path, &c->st) != TFM_OK) return fail(c, path);
    c->max_len = meta_int(c, "max_len");
    c->d_model = meta_int(c, "d_model");

    /* Weights: views into the mapped file, under PyTorch's names. */
    ok = get(c, "tok.weight", &c->tok) && get(c, "pos.weight", &c->pos) &&
         get(c, "block.self_attn.in_proj_weight", &c->attn[0]) &&
         get(c, "block.self_attn.in_proj_bias", &c->attn[1]) &&
         get(c, "block.self_attn.out_proj.weight", &c->attn[2]) &&
         get(c, "block.self_attn.out_proj.bias", &c->attn[3]) &&
         get(c, "block.linear1.weight", &c->ffn[0]) && get(c, "block.linear1.bias", &c->ffn[1]) &&
         get(c, "block.linear2.weight", &c->ffn[2]) && get(c, "block.linear2.bias", &c->ffn[3]) &&
         get(c, "block.norm1.weight", &c->norm[0]) && get(c, "block.norm1.bias", &c->norm[1]) &&
         get(c, "block.norm2.weight", &c->norm[2]) && get(c, "block.norm2.bias", &c->norm[3]) &&
         get(c, "dense.weight", &c->dense_w) && get(c, "dense.bias", &c->dense_b);
    if (!ok) {
        classifier_free(c);
        return 0;
    }
    c->n_classes = c->dense_w.shape[0];

    /* The block: nn.TransformerEncoderLayer(D, heads, d_ff, activation="relu",
     * norm_first=False), i.e. x = norm1(x + attn(x)); x = norm2(x + ffn(x)). */
    p.d_model = c->d_model;
    p.n_heads = meta_int(c, "n_heads");
    p.d_ff = meta_int(c, "d_ff");
    p.act = TFM_ACT_RELU;
    p.norm = TFM_NORM_LAYER;
    p.norm_eps = 1e-5f;
    p.norm_first = 0;
    w.self_attn.wqkv = &c->attn[0]; /* q, k, v projections fused, as PyTorch keeps them */
    w.self_attn.bqkv = &c->attn[1];
    w.self_attn.wo = &c->attn[2];
    w.self_attn.bo = &c->attn[3];
    w.ffn.w1 = &c->ffn[0];
    w.ffn.b1 = &c->ffn[1];
    w.ffn.w2 = &c->ffn[2];
    w.ffn.b2 = &c->ffn[3];
    w.attn_norm.gamma = &c->norm[0];
    w.attn_norm.beta = &c->norm[1];
    w.ffn_norm.gamma = &c->norm[2];
    w.ffn_norm.beta = &c->norm[3];
    if (tfm_encoder_layer_create(ctx, &p, &w, &c->block) != TFM_OK) {
        fail(c, "block");
        classifier_free(c);
        return 0;
    }

    /* Class names from the metadata ("negative,neutral,positive"). */
    cls = tfm_safetensors_metadata_get(c->st, "classes");
    for (ok = 0; ok < (int)c->n_classes && ok < 8; ok++) {
        size_t n = cls ? strcspn(cls, ",") : 0;
        snprintf(c->classes[ok], MAX_WORD, "%.*s", (int)n, cls ? cls : "");
        if (!cls || !n) snprintf(c->classes[ok], MAX_WORD, "class %d", ok);
        if (cls) cls = cls[n] ? cls + n + 1 : cls + n;
    }

    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    if (!(f = fopen(path, "r"))) {
        fprintf(stderr, "classifier: cannot open %s\n", path);
        classifier_free(c);
        return 0;
    }
    while (c->n_vocab < MAX_VOCAB && fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        if (len >= MAX_WORD) len = MAX_WORD - 1;
        memcpy(c->vocab[c->n_vocab], line, len);
        c->vocab[c->n_vocab++][len] = 0;
    }
    fclose(f);
    return 1;
}

/* Whitespace tokenizer: ids[0..max_len) (0 = <pad> after the text, 1 =
 * <unk> for unknown words). Returns the number of tokens kept. */
static int64_t classifier_encode(const classifier *c, const char *text, int32_t *ids) {
    int64_t n = 0, i;
    char word[MAX_WORD];
    for (i = 0; i < c->max_len; i++) ids[i] = 0;
    while (*text && n < c->max_len) {
        size_t len;
        int v;
        text += strspn(text, " \t\n");
        len = strcspn(text, " \t\n");
        if (!len) break;
        snprintf(word, sizeof word, "%.*s", (int)len, text);
        text += len;
        ids[n] = 1;
        for (v = 0; v < c->n_vocab; v++)
            if (strcmp(c->vocab[v], word) == 0) ids[n] = v;
        n++;
    }
    return n;
}

/* Runs B sequences of L ids (0 = padding) and writes logits and
 * probabilities [B, n_classes]. Returns 1 on success. */
static int classifier_run(classifier *c, const int32_t *ids, int64_t B, int64_t L,
                          float *logits, float *probs) {
    int64_t shape[3], i, n = B * L;
    tfm_tensor t_ids, t_pad, t_x, t_pool, t_logits, t_probs;
    tfm_embed_weights ew = tfm_embed_weights_default();
    tfm_attn_masks masks = tfm_attn_masks_default();
    float *x = (float *)malloc((size_t)(n * c->d_model) * sizeof(float));
    float *pool = (float *)malloc((size_t)(B * c->d_model) * sizeof(float));
    uint8_t *pad = (uint8_t *)malloc((size_t)n);
    int ok = 0;
    if (!x || !pool || !pad) goto done;
    for (i = 0; i < n; i++) pad[i] = ids[i] == 0; /* 1 = padding, ignored */

    shape[0] = B;
    shape[1] = L;
    shape[2] = c->d_model;
    tfm_tensor_wrap(&t_ids, TFM_I32, 2, shape, (void *)ids);
    tfm_tensor_wrap(&t_pad, TFM_U8, 2, shape, pad);
    tfm_tensor_wrap(&t_x, TFM_F32, 3, shape, x);
    shape[1] = c->d_model;
    tfm_tensor_wrap(&t_pool, TFM_F32, 2, shape, pool);
    shape[1] = c->n_classes;
    tfm_tensor_wrap(&t_logits, TFM_F32, 2, shape, logits);
    tfm_tensor_wrap(&t_probs, TFM_F32, 2, shape, probs);

    /* 1. token + position embeddings: x[b, s] = tok[ids[b, s]] + pos[s] */
    ew.tokens = &c->tok;
    ew.positions = &c->pos;
    if (tfm_embed(c->ctx, &ew, &t_ids, NULL, 0, &t_x) != TFM_OK) { fail(c, "embed"); goto done; }
    /* 2. the transformer block, padding keys masked out, in place */
    masks.key_padding_mask = &t_pad;
    if (tfm_encoder_layer_forward(c->ctx, c->block, &t_x, &masks, NULL, &t_x, NULL) != TFM_OK) {
        fail(c, "block");
        goto done;
    }
    /* 3. average over the real tokens */
    if (tfm_mean_pool(c->ctx, &t_x, &t_pad, &t_pool) != TFM_OK) { fail(c, "pool"); goto done; }
    /* 4. dense: logits = pool . W^T + b (nn.Linear layout) */
    if (tfm_matmul(c->ctx, &t_pool, &c->dense_w, 1, &c->dense_b, 1.0f, 0.0f, &t_logits) !=
        TFM_OK) {
        fail(c, "dense");
        goto done;
    }
    /* 5. softmax */
    if (tfm_softmax(c->ctx, &t_logits, NULL, &t_probs) != TFM_OK) { fail(c, "softmax"); goto done; }
    ok = 1;
done:
    free(x);
    free(pool);
    free(pad);
    return ok;
}

#ifndef CLASSIFIER_NO_MAIN
int main(int argc, char **argv) {
    static const char *defaults[] = {"the movie was great and the music was wonderful",
                                     "a boring plot and awful actors", "it is a film"};
    const char *dir = "examples/classifier_data";
    const char **texts = defaults;
    int n = 3, i, k, rc = 1;
    tfm_ctx *ctx = NULL;
    classifier c;
    int32_t *ids = NULL;
    float *logits = NULL, *probs = NULL;

    if (argc > 2 && strcmp(argv[1], "-d") == 0) {
        dir = argv[2];
        argc -= 2;
        argv += 2;
    }
    if (argc > 1) {
        texts = (const char **)(argv + 1);
        n = argc - 1;
    }
    if (tfm_ctx_create(NULL, &ctx) != TFM_OK) return 1;
    if (!classifier_load(&c, ctx, dir)) goto out;
    ids = (int32_t *)malloc((size_t)(n * c.max_len) * sizeof(int32_t));
    logits = (float *)malloc((size_t)(n * c.n_classes) * sizeof(float));
    probs = (float *)malloc((size_t)(n * c.n_classes) * sizeof(float));
    if (!ids || !logits || !probs) goto out;
    for (i = 0; i < n; i++)
        if (classifier_encode(&c, texts[i], ids + i * c.max_len) == 0) ids[i * c.max_len] = 1;
    /* all sentences in one batch; padding keeps them apart */
    if (!classifier_run(&c, ids, n, c.max_len, logits, probs)) goto out;
    for (i = 0; i < n; i++) {
        int best = 0;
        for (k = 1; k < (int)c.n_classes; k++)
            if (probs[i * c.n_classes + k] > probs[i * c.n_classes + best]) best = k;
        printf("%-9s", c.classes[best]);
        for (k = 0; k < (int)c.n_classes; k++)
            printf(" %s %.3f", c.classes[k], probs[i * c.n_classes + k]);
        printf("  \"%s\"\n", texts[i]);
    }
    rc = 0;
out:
    free(ids);
    free(logits);
    free(probs);
    classifier_free(&c);
    tfm_ctx_free(ctx);
    return rc;
}
#endif
