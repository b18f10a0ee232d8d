/*
 * translate: German to English (or whatever the model does) with the public
 * API only.
 *
 *     translate [MODEL_DIR] [TEXT...]
 *
 * MODEL_DIR defaults to the bundled model, models/de-en. Each TEXT (default:
 * a few sentences) is translated with beam search (4 beams), all of them in
 * one batch, and printed with its score.
 */
#include <transformer.h>

#include <stdio.h>

int main(int argc, char **argv) {
    static const char *defaults[] = {"Das Haus ist klein.", "Ich trinke gern Kaffee.",
                                     "Wo ist der Bahnhof?"};
    const char *dir = argc > 1 ? argv[1] : "models/de-en";
    const char *const *texts = argc > 2 ? (const char *const *)(argv + 2) : defaults;
    int32_t n = argc > 2 ? (int32_t)(argc - 2) : 3, i;
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_translate_params tp = tfm_translate_params_default();
    tfm_ctx *ctx = NULL;
    tfm_model *model = NULL;
    tfm_session *session = NULL;
    tfm_translate_result *res = NULL;
    tfm_status st;
    cp.n_threads = 2;
    if ((st = tfm_ctx_create(&cp, &ctx)) != TFM_OK) {
        fprintf(stderr, "translate: %s\n", tfm_status_str(st));
        return 1;
    }
    st = tfm_model_load(ctx, dir, NULL, &model);
    if (st == TFM_OK) st = tfm_session_create(ctx, model, NULL, &session);
    tp.beam_size = 4;
    if (st == TFM_OK) st = tfm_translate(session, texts, n, &tp, &res);
    if (st != TFM_OK) {
        fprintf(stderr, "translate: %s: %s\n", tfm_status_str(st), tfm_ctx_last_error(ctx));
    } else {
        for (i = 0; i < res->n; i++)
            printf("%s\n  -> %s   (score %.3f)\n", texts[i],
                   res->items[i].text ? res->items[i].text : "", res->items[i].score);
    }
    tfm_translate_result_free(res);
    tfm_session_free(session);
    tfm_model_free(model);
    tfm_ctx_free(ctx);
    return st == TFM_OK ? 0 : 1;
}
