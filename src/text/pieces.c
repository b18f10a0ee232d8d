/*
 * vocab.json as a map of pieces to ids (Marian: one map for the source and
 * target SentencePiece models): each id's piece in one block of
 * NUL-terminated strings, an open-addressing table from piece to id, and
 * MarianTokenizer's decoding of target ids. Letters as in pieces.h.
 */
#include "pieces.h"
#include "../io/json.h"

#include <string.h>

struct tfm__pieces {
    tfm_ctx *ctx;            /* allocator of everything below                */
    int32_t V;               /* ids [0, V)                                   */
    char **str;              /* [V] piece of each id, NULL: none             */
    char *chars;             /* [chars_size] the pieces, each NUL-terminated */
    size_t chars_size;
    int32_t *hash;           /* [hmask + 1] id + 1 by piece hash, 0 empty    */
    uint32_t hmask;
};

void tfm__pieces_free(tfm__pieces *p) {
    tfm_ctx *ctx;
    if (!p) return;
    ctx = p->ctx;
    if (p->str) tfm__free(ctx, p->str, (size_t)p->V * sizeof(char *));
    if (p->chars) tfm__free(ctx, p->chars, p->chars_size);
    if (p->hash) tfm__free(ctx, p->hash, ((size_t)p->hmask + 1) * sizeof(int32_t));
    tfm__free(ctx, p, sizeof *p);
}

tfm_status tfm__pieces_load(tfm_ctx *ctx, const char *path, int32_t V, const char *what,
                            tfm__pieces **out) {
    tfm__json_doc *doc = NULL;
    const tfm__json *root;
    tfm__pieces *p = NULL;
    tfm_status st;
    size_t i, n, total = 0, kl;
    size_t cap = 1;
    char *chars;
    *out = NULL;
    if ((st = tfm__json_parse_file(ctx, path, NULL, &doc))) return st;
    root = tfm__json_root(doc);
    if (!tfm__json_is(root, TFM__JSON_OBJECT)) {
        st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: %s: not a JSON object", what, path);
        goto done;
    }
    n = tfm__json_len(root);
    while (cap < 2 * n + 2) cap *= 2;
    for (i = 0; i < n; i++) {
        tfm__json_key_at(root, i, &kl);
        total += kl + 1;
    }
    p = (tfm__pieces *)tfm__alloc(ctx, sizeof *p);
    if (p) {
        p->ctx = ctx;
        p->V = V;
        p->str = (char **)tfm__alloc(ctx, (size_t)V * sizeof(char *));
        p->chars_size = total ? total : 1;
        p->chars = (char *)tfm__alloc(ctx, p->chars_size);
        p->hmask = (uint32_t)(cap - 1);
        p->hash = (int32_t *)tfm__alloc(ctx, cap * sizeof(int32_t));
    }
    if (!p || !p->str || !p->chars || !p->hash) {
        st = tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory reading %s", what, path);
        goto done;
    }
    chars = p->chars;
    for (i = 0; i < n; i++) {
        const char *k = tfm__json_key_at(root, i, &kl);
        const tfm__json *v = tfm__json_at(root, i);
        uint32_t h;
        if (!v || v->type != TFM__JSON_NUMBER || !v->is_int || v->i < 0 || v->i >= V) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: %s: piece '%s' has an id outside the "
                          "vocabulary of %d", what, path, k, (int)V);
            goto done;
        }
        if (p->str[v->i]) continue; /* the first piece of an id wins */
        p->str[v->i] = chars;
        memcpy(chars, k, kl);
        chars[kl] = 0;
        chars += kl + 1;
        for (h = tfm__hash_bytes(k, kl) & p->hmask; p->hash[h]; h = (h + 1) & p->hmask) {}
        p->hash[h] = (int32_t)v->i + 1;
    }
    *out = p;
    p = NULL;
done:
    tfm__pieces_free(p);
    tfm__json_free(doc);
    return st;
}

int32_t tfm__pieces_find(const tfm__pieces *p, const char *s, size_t len) {
    uint32_t h;
    for (h = tfm__hash_bytes(s, len) & p->hmask;; h = (h + 1) & p->hmask) {
        int32_t e = p->hash[h];
        if (!e) return -1;
        if (strlen(p->str[e - 1]) == len && memcmp(p->str[e - 1], s, len) == 0) return e - 1;
    }
}

const char *tfm__pieces_get(const tfm__pieces *p, int32_t id) {
    return id >= 0 && id < p->V ? p->str[id] : NULL;
}

tfm_status tfm__pieces_decode(tfm_ctx *ctx, const tfm__pieces *p, const int32_t *ids,
                              int32_t n, int32_t pad, int32_t eos, int32_t unk,
                              const char *what, char **out) {
    size_t len = 0, o = 0, k;
    int32_t i;
    char *buf;
    const char *c;
    *out = NULL;
    for (i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (!(c = tfm__pieces_get(p, id)) || id == pad || id == eos || id == unk) continue;
        len += strlen(c);
    }
    buf = (char *)tfm__alloc(ctx, len + 1);
    if (!buf) return tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory decoding", what);
    for (i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (!(c = tfm__pieces_get(p, id)) || id == pad || id == eos || id == unk) continue;
        while (*c) {
            if ((uint8_t)c[0] == 0xE2 && (uint8_t)c[1] == 0x96 && (uint8_t)c[2] == 0x81) {
                if (o > 0) buf[o++] = ' '; /* U+2581; the leading one is dropped */
                c += 3;
            } else {
                buf[o++] = *c++;
            }
        }
    }
    buf[o] = 0;
    /* the caller frees strlen + 1 bytes, so keep the exact size */
    if (o != len) {
        char *b2 = (char *)tfm__alloc(ctx, o + 1);
        if (!b2) {
            tfm__free(ctx, buf, len + 1);
            return tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory decoding", what);
        }
        for (k = 0; k <= o; k++) b2[k] = buf[k];
        tfm__free(ctx, buf, len + 1);
        buf = b2;
    }
    *out = buf;
    return TFM_OK;
}
