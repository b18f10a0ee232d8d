/*
 * The registry of architectures: one row per config.json model_type, with
 * its kind and hooks (arch.h). tfm_model_load finds the row of a folder's
 * model_type here; nothing else in the library tells the kinds apart.
 */
#include "arch.h"

#include <string.h>

static const tfm__arch table[] = {
    // name, kind, config, load, session_create, session_free, forward,
    // session_truncate, weight_bytes
    {"llama", TFM_KIND_DECODER, tfm__llama_config, tfm__llama_load, tfm__dec_session_create,
     tfm__dec_session_free, tfm__dec_forward, tfm__dec_session_truncate, tfm__dec_weight_bytes},
    {"gpt2", TFM_KIND_DECODER, tfm__gpt2_config, tfm__gpt2_load, tfm__dec_session_create,
     tfm__dec_session_free, tfm__dec_forward, tfm__dec_session_truncate, tfm__dec_weight_bytes},
    {"bert", TFM_KIND_ENCODER, tfm__bert_config, tfm__bert_load, NULL, NULL, NULL, NULL,
     tfm__bert_weight_bytes},
    {"distilbert", TFM_KIND_ENCODER, tfm__bert_config, tfm__bert_load, NULL, NULL, NULL, NULL,
     tfm__bert_weight_bytes},
    {"marian", TFM_KIND_ENCODER_DECODER, tfm__s2s_config, tfm__s2s_load,
     tfm__s2s_session_create, tfm__s2s_session_free, NULL, NULL, tfm__s2s_weight_bytes},
    {"transformer", TFM_KIND_ENCODER_DECODER, tfm__s2s_config, tfm__s2s_load,
     tfm__s2s_session_create, tfm__s2s_session_free, NULL, NULL, tfm__s2s_weight_bytes},
};

#define N_ARCH (sizeof table / sizeof table[0])

const tfm__arch *tfm__arch_find(const char *name) {
    size_t i;
    for (i = 0; name && i < N_ARCH; i++)
        if (strcmp(table[i].name, name) == 0) return &table[i];
    return NULL;
}

void tfm__arch_names(char *buf, size_t size) {
    size_t i, o = 0;
    if (size) buf[0] = 0;
    for (i = 0; i < N_ARCH && o + 1 < size; i++) {
        size_t n = strlen(table[i].name);
        if (o + n + 3 > size) break;
        if (i) {
            memcpy(buf + o, ", ", 2);
            o += 2;
        }
        memcpy(buf + o, table[i].name, n + 1);
        o += n;
    }
}
