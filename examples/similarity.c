/*
 * similarity: sentence similarity with an encoder model. Embeds every
 * sentence with mean pooling and L2 normalization (what sentence-
 * transformers models such as all-MiniLM-L6-v2 do), then prints the cosine
 * similarity of each pair, which for unit vectors is their dot product.
 *
 *   similarity MODEL_DIR SENTENCE SENTENCE [SENTENCE...]
 */
#include <transformer.h>

#include <stdio.h>

int main(int argc, char **argv) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_task_params tp = tfm_task_params_default();
    tfm_ctx *ctx = NULL;
    tfm_model *model = NULL;
    tfm_embeddings *e = NULL;
    tfm_status st;
    int i, j, d, n = argc - 2, rc = 1;
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL_DIR SENTENCE SENTENCE [SENTENCE...]\n", argv[0]);
        return 2;
    }
    cp.n_threads = 2;
    tp.pooling = TFM_POOLING_MEAN;
    tp.normalize = 1;
    tp.truncate = 1;
    if (tfm_ctx_create(&cp, &ctx) != TFM_OK) return 1;
    // All sentences go through the model as one padded batch.
    if ((st = tfm_model_load(ctx, argv[1], NULL, &model)) != TFM_OK ||
        (st = tfm_embed_texts(ctx, model, (const char *const *)(argv + 2), n, &tp, &e)) != TFM_OK) {
        fprintf(stderr, "similarity: %s: %s\n", tfm_status_str(st), tfm_ctx_last_error(ctx));
        goto done;
    }
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++) {
            const float *a = e->data + (size_t)i * e->dim, *b = e->data + (size_t)j * e->dim;
            double dot = 0;
            for (d = 0; d < e->dim; d++) dot += (double)a[d] * b[d];
            printf("%.4f  \"%s\" ~ \"%s\"\n", dot, argv[2 + i], argv[2 + j]);
        }
    rc = 0;
done:
    tfm_embeddings_free(e);
    tfm_model_free(model);
    tfm_ctx_free(ctx);
    return rc;
}
