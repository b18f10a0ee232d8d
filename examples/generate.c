/*
 * generate: text generation with a decoder model, streamed token by token.
 *
 *   generate MODEL [--tokenizer FILE] [--prompt TEXT] [--steps N]
 *            [--temperature T] [--seed S] [--threads N]
 *
 * MODEL is a llama2.c checkpoint (.bin, with tokenizer.bin beside it or
 * named by --tokenizer) or a Hugging Face GPT-2 / Llama folder. --steps
 * counts positions, prompt included (default 256); --temperature 0 is
 * greedy. Prints the prompt, then each piece of text as it is generated,
 * and the speed on stderr. Uses only the public header.
 *
 * e.g. generate stories260K.bin --tokenizer tok512.bin --prompt "Once"
 */
#include <transformer.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The streaming callback: write each piece as soon as it is made. A piece
// that is a lone unprintable byte (a raw byte token) is left out.
static int on_token(void *ud, int32_t token, const char *piece, size_t len) {
    (void)ud;
    (void)token;
    if (len == 1 && !isprint((unsigned char)piece[0]) && !isspace((unsigned char)piece[0]))
        return 0;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return 0; // non-zero would stop the generation
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *prompt = "";
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_model_params mp = tfm_model_params_default();
    tfm_gen_params gp = tfm_gen_params_default();
    tfm_gen_stats stats = tfm_gen_stats_default();
    tfm_ctx *ctx = NULL;
    tfm_model *model = NULL;
    tfm_session *session = NULL;
    tfm_status st;
    int i, rc = 1;

    gp.max_new_tokens = 0;     // the limit is --steps positions
    gp.max_total_tokens = 256;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            model_path = a;
            continue;
        }
        if (!v) break;
        i++;
        if (strcmp(a, "--tokenizer") == 0) mp.tokenizer_path = v;
        else if (strcmp(a, "--prompt") == 0) prompt = v;
        else if (strcmp(a, "--steps") == 0) gp.max_total_tokens = atoi(v);
        else if (strcmp(a, "--temperature") == 0) gp.temperature = (float)atof(v);
        else if (strcmp(a, "--seed") == 0) gp.seed = (uint64_t)strtoull(v, NULL, 10);
        else if (strcmp(a, "--threads") == 0) cp.n_threads = atoi(v);
        else break;
    }
    if (!model_path || i < argc || gp.max_total_tokens < 1) {
        fprintf(stderr, "usage: %s MODEL [--tokenizer FILE] [--prompt TEXT] [--steps N] "
                        "[--temperature T] [--seed S] [--threads N]\n", argv[0]);
        return 2;
    }
    gp.on_token = on_token;

    if ((st = tfm_ctx_create(&cp, &ctx)) != TFM_OK) {
        fprintf(stderr, "context: %s\n", tfm_status_str(st));
        return 1;
    }
    if ((st = tfm_model_load(ctx, model_path, &mp, &model)) != TFM_OK ||
        (st = tfm_session_create(ctx, model, NULL, &session)) != TFM_OK)
        goto done;
    if (gp.max_total_tokens > tfm_session_max_context(session))
        gp.max_total_tokens = tfm_session_max_context(session);

    fputs(prompt, stdout); // the text continues the prompt
    st = tfm_generate(session, prompt, &gp, NULL, 0, NULL, &stats);
    printf("\n");
    if (st != TFM_OK) goto done;
    fprintf(stderr, "prompt: %d tokens, %.1f tok/s; generation: %d tokens, %.1f tok/s\n",
            (int)stats.n_prompt,
            stats.prompt_seconds > 0 ? stats.n_prompt / stats.prompt_seconds : 0.0,
            (int)stats.n_generated,
            stats.gen_seconds > 0 ? stats.n_generated / stats.gen_seconds : 0.0);
    rc = 0;
done:
    if (rc) fprintf(stderr, "error: %s: %s\n", tfm_status_str(st), tfm_ctx_last_error(ctx));
    tfm_session_free(session);
    tfm_model_free(model);
    tfm_ctx_free(ctx);
    return rc;
}
