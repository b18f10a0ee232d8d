/*
 * fill_mask: predicts the word behind each [MASK] with a BERT-family
 * masked-LM model from a Hugging Face folder.
 *
 *   fill_mask MODEL_DIR ["The capital of France is [MASK]."] [TOP_K]
 *
 * e.g. with bert-base-uncased: paris 0.4, lille 0.1, ...
 */
#include <transformer.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const char *text = argc > 2 ? argv[2] : "The capital of France is [MASK].";
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_task_params tp = tfm_task_params_default();
    tfm_ctx *ctx = NULL;
    tfm_model *model = NULL;
    tfm_fill_mask_result *r = NULL;
    tfm_status st;
    int m, k, rc = 1;
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [TEXT with [MASK]] [TOP_K]\n", argv[0]);
        return 2;
    }
    tp.top_k = argc > 3 ? atoi(argv[3]) : 5;
    cp.n_threads = 2;
    if (tfm_ctx_create(&cp, &ctx) != TFM_OK) return 1;
    if ((st = tfm_model_load(ctx, argv[1], NULL, &model)) != TFM_OK ||
        (st = tfm_fill_mask(ctx, model, &text, 1, &tp, &r)) != TFM_OK) {
        fprintf(stderr, "fill_mask: %s: %s\n", tfm_status_str(st), tfm_ctx_last_error(ctx));
        goto done;
    }
    printf("%s\n", text);
    for (m = 0; m < r->n_masks; m++) {
        printf("[MASK] #%d (token %d):\n", m + 1, (int)r->position[m]);
        for (k = 0; k < r->top_k; k++) {
            const tfm_prediction *p = &r->pred[m * r->top_k + k];
            printf("  %-15s %.4f\n", p->token, (double)p->score);
        }
    }
    rc = 0;
done:
    tfm_fill_mask_result_free(r);
    tfm_model_free(model);
    tfm_ctx_free(ctx);
    return rc;
}
