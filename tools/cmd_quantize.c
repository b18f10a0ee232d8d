/*
 * tfm quantize IN OUT [--weights q8|q4|f16|bf16|f32] [--threads N]
 *
 * Writes the Hugging Face folder IN with its matrices in the format
 * --weights asks (default q8) to the folder OUT (tfm_model_quantize):
 * model.safetensors and IN's config and tokenizer files. OUT loads with
 * every model command, mapped, with no conversion.
 */
#include "tfm.h"

#include <string.h>

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    long threads = tool_default_threads();
    int32_t weights = TFM_WEIGHTS_Q8;
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    tfm_status st;
    int i, rc = TFM_EXIT_OK;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' || a[1] != '-') {
            if (!in) in = a;
            else if (!out) out = a;
            else return tool_usage_error("quantize: more than IN and OUT ('%s')", a);
            continue;
        }
        if (!v) return tool_usage_error("quantize: %s needs a value", a);
        i++;
        if (strcmp(a, "--weights") == 0) {
            if (!tool_parse_weights(v, &weights))
                return tool_usage_error("quantize: --weights takes " TOOL_WEIGHTS_CHOICES
                                        ", not '%s'", v);
        } else if (strcmp(a, "--threads") == 0) {
            if (!tool_parse_int(v, 1, 1024, &threads))
                return tool_usage_error("quantize: bad --threads '%s'", v);
        } else {
            return tool_usage_error("quantize: unknown option '%s'", a);
        }
    }
    if (!in || !out) return tool_usage_error("quantize: IN (an HF folder) and OUT are required");
    cp.n_threads = (int32_t)threads;
    if ((st = tfm_ctx_create(&cp, &ctx))) return tool_runtime_error(ctx, st, "context");
    if ((st = tfm_model_quantize(ctx, in, out, weights))) rc = tool_runtime_error(ctx, st, in);
    else fprintf(stderr, "tfm: quantize: wrote %s\n", out);
    tfm_ctx_free(ctx);
    return rc;
}
