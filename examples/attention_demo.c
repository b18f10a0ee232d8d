/*
 * attention_demo: scaled dot-product self-attention over a toy sentence,
 * written with the tensor ops of the public header, and its attention
 * weights drawn as a character-shaded grid.
 *
 *   build/examples/attention_demo
 */
#include <transformer.h>

#include <math.h>
#include <stdio.h>

#define S 6 /* tokens */
#define D 8 /* model width */

int main(void) {
    static const char *words[S] = {"the", "cat", "sat", "on", "the", "mat"};
    static const char shades[] = " .:-=+*#%@";
    float x[S * D], scores[S * S], probs[S * S], ctxv[S * D];
    int64_t sx[2] = {S, D}, ss[2] = {S, S};
    tfm_tensor tx, ts, tp, tc;
    tfm_ctx *ctx;
    tfm_status st;
    int i, j;

    if ((st = tfm_ctx_create(NULL, &ctx)) != TFM_OK) {
        fprintf(stderr, "attention_demo: %s\n", tfm_status_str(st));
        return 1;
    }
    // Toy embeddings: equal words get equal vectors, neighbours share a bit.
    for (i = 0; i < S; i++)
        for (j = 0; j < D; j++) {
            unsigned h = 0;
            const char *w;
            for (w = words[i]; *w; w++) h = h * 31u + (unsigned char)*w;
            x[i * D + j] = (float)sin((double)(h % 97) * (j + 1) * 0.37) +
                           0.3f * (float)cos((double)i * 0.9 + j);
        }
    tfm_tensor_wrap(&tx, TFM_F32, 2, sx, x);
    tfm_tensor_wrap(&ts, TFM_F32, 2, ss, scores);
    tfm_tensor_wrap(&tp, TFM_F32, 2, ss, probs);
    tfm_tensor_wrap(&tc, TFM_F32, 2, sx, ctxv);
    // scores = x x^T / sqrt(D); probs = softmax(scores); context = probs x
    if ((st = tfm_matmul(ctx, &tx, &tx, 1, NULL, 1.0f / sqrtf((float)D), 0.0f, &ts)) ||
        (st = tfm_softmax(ctx, &ts, NULL, &tp)) ||
        (st = tfm_matmul(ctx, &tp, &tx, 0, NULL, 1.0f, 0.0f, &tc))) {
        fprintf(stderr, "attention_demo: %s: %s\n", tfm_status_str(st), tfm_ctx_last_error(ctx));
        tfm_ctx_free(ctx);
        return 1;
    }
    printf("libtransformer %s, kernels %s\n\n", tfm_version_string(), tfm_kernels_name());
    printf("self-attention weights (row: query, column: key)\n\n      ");
    for (j = 0; j < S; j++) printf("%-5s", words[j]);
    printf("\n");
    for (i = 0; i < S; i++) {
        printf("%-5s ", words[i]);
        for (j = 0; j < S; j++) {
            int k = (int)(probs[i * S + j] * 9.999f);
            printf("%c%c   ", shades[k], shades[k]);
        }
        printf("\n");
    }
    tfm_ctx_free(ctx);
    return 0;
}
