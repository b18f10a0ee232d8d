/*
 * llama2.c tokenizer.bin: int32 max_token_length, then one record per id:
 * float32 score, int32 length, `length` bytes of the piece. The number of
 * ids is the number of records up to the end of the file.
 *
 * Encoding as llama2.c's run.c: a dummy-prefix " " piece, then one piece per
 * UTF-8 character (or its bytes as <0xNN> pieces at id byte + 3), then the
 * adjacent pair whose merged piece has the highest score is merged until no
 * pair merges (scores <= -1e10 never merge).
 */
#include "tokenizer.h"

#include <string.h>

static int32_t rd_i32(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    int32_t r;
    memcpy(&r, &v, 4);
    return r;
}

static float rd_f32(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &v, 4);
    return f;
}

tfm_status tfm__tokbin_load(tfm_ctx *ctx, const char *path, tfm_tokenizer *t) {
    char *data;
    size_t size, pos, nrec = 0, blob = 0;
    int32_t max_len, i;
    const unsigned char *u;
    tfm_status st = tfm__read_file(ctx, path, (size_t)-1, "tokenizer", &data, &size);
    if (st != TFM_OK) return st;
    u = (const unsigned char *)data;
    if (size < 4) {
        st = tfm__err(ctx, TFM_ERR_FORMAT, "tokenizer.bin '%s': %zu bytes, too short for the "
                      "header", path, size);
        goto done;
    }
    max_len = rd_i32(u);
    if (max_len < 1 || max_len > 65536) {
        st = tfm__err(ctx, TFM_ERR_FORMAT, "tokenizer.bin '%s': max_token_length %d out of "
                      "range", path, (int)max_len);
        goto done;
    }
    /* pass 1: check every record */
    for (pos = 4; pos < size; nrec++) {
        int32_t len;
        size_t k;
        if (size - pos < 8) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "tokenizer.bin '%s': record %zu: truncated "
                          "header (%zu bytes left of 8)", path, nrec, size - pos);
            goto done;
        }
        len = rd_i32(u + pos + 4);
        if (len < 0 || len > max_len) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "tokenizer.bin '%s': record %zu: length %d "
                          "outside [0, max_token_length %d]", path, nrec, (int)len, (int)max_len);
            goto done;
        }
        if ((size_t)len > size - pos - 8) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "tokenizer.bin '%s': record %zu: length %d "
                          "past the end of the file (%zu bytes left)", path, nrec, (int)len,
                          size - pos - 8);
            goto done;
        }
        for (k = 0; k < (size_t)len; k++)
            if (u[pos + 8 + k] == 0) {
                st = tfm__err(ctx, TFM_ERR_FORMAT, "tokenizer.bin '%s': record %zu: NUL byte "
                              "in the piece", path, nrec);
                goto done;
            }
        if (nrec >= (size_t)INT32_MAX - 1) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "tokenizer.bin '%s': too many records", path);
            goto done;
        }
        blob += (size_t)len + 1;
        pos += 8 + (size_t)len;
    }
    if (nrec == 0) {
        st = tfm__err(ctx, TFM_ERR_FORMAT, "tokenizer.bin '%s': no records", path);
        goto done;
    }
    t->n_vocab = (int32_t)nrec;
    t->blob_size = blob;
    t->blob = (char *)tfm__alloc_nozero(ctx, blob);
    t->scores = (float *)tfm__alloc_nozero(ctx, nrec * sizeof(float));
    if (!t->blob || !t->scores) {
        st = tfm__err(ctx, TFM_ERR_NOMEM, "tokenizer.bin '%s': out of memory", path);
        goto done;
    }
    blob = 0;
    for (pos = 4, i = 0; i < t->n_vocab; i++) {
        int32_t len = rd_i32(u + pos + 4);
        t->scores[i] = rd_f32(u + pos);
        memcpy(t->blob + blob, u + pos + 8, (size_t)len);
        t->blob[blob + (size_t)len] = 0;
        blob += (size_t)len + 1;
        pos += 8 + (size_t)len;
    }
    st = tfm__tok_index(ctx, t, "tokenizer.bin");
    if (st != TFM_OK) goto done;
    if (t->n_vocab > 0) t->special[TFM_TOKEN_UNK] = 0;
    if (t->n_vocab > 1) t->special[TFM_TOKEN_BOS] = 1;
    if (t->n_vocab > 2) t->special[TFM_TOKEN_EOS] = 2;
    for (i = 0; i < 3 && i < t->n_vocab; i++) t->is_special[i] = 1;
    t->space_id = tfm__tok_lookup2(t, "", 0, " ", 1);
done:
    tfm__free(ctx, data, size + 1);
    return st;
}

static int llama_pair(const tfm_tokenizer *t, int32_t a, int32_t b, double *key,
                      int32_t *merged) {
    int32_t id = tfm__tok_lookup2(t, tfm__tok_str(t, a), tfm__tok_len(t, a),
                                  tfm__tok_str(t, b), tfm__tok_len(t, b));
    if (id < 0 || !(t->scores[id] > -1e10f)) return 0;
    *key = -(double)t->scores[id];
    *merged = id;
    return 1;
}

static int32_t byte_piece(const tfm_tokenizer *t, unsigned char c) {
    int32_t id = (int32_t)c + 3;
    return id < t->n_vocab ? id : t->special[TFM_TOKEN_UNK];
}

tfm_status tfm__tokbin_encode(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s,
                               size_t n, tfm__ids *out) {
    tfm__sym *sym;
    size_t bytes, i;
    int32_t ns = 0, k;
    tfm_status st;
    if (!tfm__mul_size(n + 1, sizeof(tfm__sym), &bytes))
        return tfm__err(ctx, TFM_ERR_RANGE, "encode: text too long");
    sym = (tfm__sym *)tfm__alloc_nozero(ctx, bytes);
    if (!sym) return tfm__err(ctx, TFM_ERR_NOMEM, "encode: out of memory");
    /* the dummy prefix: a space before the text */
    sym[ns].id = t->space_id >= 0 ? t->space_id : byte_piece(t, ' ');
    sym[ns].start = sym[ns].end = 0;
    ns++;
    for (i = 0; i < n;) {
        uint32_t cp;
        int l = tfm__utf8_decode((const unsigned char *)s, n, i, &cp), j;
        int32_t id;
        if (l == 0) l = 1; /* validated by the caller; never happens */
        id = tfm__tok_lookup2(t, "", 0, s + i, (size_t)l);
        if (id >= 0) {
            sym[ns].id = id;
            sym[ns].start = (int32_t)i;
            sym[ns].end = (int32_t)(i + (size_t)l);
            ns++;
        } else {
            for (j = 0; j < l; j++) {
                sym[ns].id = byte_piece(t, (unsigned char)s[i + (size_t)j]);
                sym[ns].start = (int32_t)i;
                sym[ns].end = (int32_t)(i + (size_t)l);
                ns++;
            }
        }
        i += (size_t)l;
    }
    for (k = 0; k < ns; k++) {
        sym[k].prev = k - 1;
        sym[k].next = k + 1 < ns ? k + 1 : -1;
    }
    st = tfm__bpe_merge(ctx, t, sym, ns, llama_pair);
    for (k = 0; st == TFM_OK && k >= 0; k = sym[k].next)
        st = tfm__ids_push(ctx, out, sym[k].id, sym[k].start, sym[k].end);
    tfm__free(ctx, sym, bytes);
    return st;
}
