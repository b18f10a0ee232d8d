/*
 * GPT-2 byte-level BPE: vocab.json (string -> id) + merges.txt (one merge per
 * line, rank = order), as OpenAI's encoder and Hugging Face's GPT2Tokenizer.
 *  - pre-tokenization by GPT-2's pattern, written out by hand:
 *      's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *  - each piece's bytes map to printable characters (byte-to-unicode), one
 *    symbol per byte, then the pair of lowest rank is merged, leftmost first;
 *  - special strings (<|endoftext|>) in raw text become their id.
 */
#include "tokenizer.h"
#include "../io/json.h"

#include <string.h>

/* GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for
 * themselves, the others are moved to U+0100 and up, in byte order. */
static void byte_to_unicode(uint32_t *bu) {
    int b, extra = 0;
    for (b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        bu[b] = printable ? (uint32_t)b : (uint32_t)(256 + extra++);
    }
}

static uint64_t pair_key(int32_t a, int32_t b) {
    return (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
}

static uint32_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (uint32_t)k;
}

static tfm_status load_vocab(tfm_ctx *ctx, const char *path, tfm_tokenizer *t) {
    tfm__json_doc *doc = NULL;
    const tfm__json *root;
    size_t i, n, blob = 0;
    int32_t *order = NULL;
    tfm_status st = tfm__json_parse_file(ctx, path, NULL, &doc);
    if (st != TFM_OK) return st;
    root = tfm__json_root(doc);
    if (!tfm__json_is(root, TFM__JSON_OBJECT) || tfm__json_len(root) == 0) {
        st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: expected a non-empty object of token -> id", path);
        goto done;
    }
    n = tfm__json_len(root);
    if (n >= (size_t)INT32_MAX) {
        st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: too many tokens", path);
        goto done;
    }
    order = (int32_t *)tfm__alloc(ctx, n * sizeof(int32_t));
    if (!order) {
        st = tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (i = 0; i < n; i++) order[i] = -1;
    for (i = 0; i < n; i++) {
        size_t kl;
        const char *key = tfm__json_key_at(root, i, &kl);
        const tfm__json *v = tfm__json_at(root, i);
        if (!v || !v->is_int || v->i < 0 || v->i >= (int64_t)n) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: token '%s': id must be an integer in [0, %zu)",
                          path, key, n);
            goto done;
        }
        if (order[v->i] >= 0) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: token '%s': id %lld used twice", path, key,
                          (long long)v->i);
            goto done;
        }
        if (memchr(key, 0, kl)) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: id %lld: NUL in the token", path,
                          (long long)v->i);
            goto done;
        }
        order[v->i] = (int32_t)i;
        blob += kl + 1;
    }
    t->n_vocab = (int32_t)n;
    t->blob_size = blob;
    t->blob = (char *)tfm__alloc_nozero(ctx, blob);
    if (!t->blob) {
        st = tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (i = 0, blob = 0; i < n; i++) {
        size_t kl;
        const char *key = tfm__json_key_at(root, (size_t)order[i], &kl);
        memcpy(t->blob + blob, key, kl + 1);
        blob += kl + 1;
    }
    st = tfm__tok_index(ctx, t, path);
done:
    if (order) tfm__free(ctx, order, tfm__json_len(root) * sizeof(int32_t));
    tfm__json_free(doc);
    return st;
}

static tfm_status load_merges(tfm_ctx *ctx, const char *path, tfm_tokenizer *t) {
    char *data;
    size_t size, i, ls, nlines = 0, hsize = 16, line = 0;
    int32_t rank = 0;
    tfm_status st = tfm__read_file(ctx, path, (size_t)-1, "tokenizer", &data, &size);
    if (st != TFM_OK) return st;
    for (i = 0; i < size; i++) nlines += data[i] == '\n';
    nlines++;
    while (hsize < nlines * 2) hsize *= 2;
    t->mmask = (uint32_t)(hsize - 1);
    t->merge_key = (uint64_t *)tfm__alloc(ctx, hsize * sizeof(uint64_t));
    t->merge_rank = (int32_t *)tfm__alloc(ctx, hsize * sizeof(int32_t));
    t->merge_id = (int32_t *)tfm__alloc(ctx, hsize * sizeof(int32_t));
    if (!t->merge_key || !t->merge_rank || !t->merge_id) {
        st = tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (ls = 0; ls < size; ls = i + 1) {
        size_t e, sp;
        int32_t a, b, m;
        uint32_t h;
        uint64_t key;
        for (i = ls; i < size && data[i] != '\n'; i++) {
        }
        line++;
        e = i;
        if (e > ls && data[e - 1] == '\r') e--;
        if (e == ls) continue;
        if (line == 1 && e - ls >= 8 && memcmp(data + ls, "#version", 8) == 0) continue;
        sp = ls;
        while (sp < e && data[sp] != ' ') sp++;
        if (sp == ls || sp + 1 >= e || memchr(data + sp + 1, ' ', e - sp - 1)) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: line %zu: expected two tokens separated by "
                          "one space", path, line);
            goto done;
        }
        a = tfm__tok_lookup2(t, "", 0, data + ls, sp - ls);
        b = tfm__tok_lookup2(t, "", 0, data + sp + 1, e - sp - 1);
        m = tfm__tok_lookup2(t, data + ls, sp - ls, data + sp + 1, e - sp - 1);
        if (a < 0 || b < 0 || m < 0) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: line %zu: '%.*s' is not in the vocabulary",
                          path, line, (int)(a < 0 ? sp - ls : b < 0 ? e - sp - 1 : e - ls),
                          a < 0 ? data + ls : b < 0 ? data + sp + 1 : data + ls);
            goto done;
        }
        key = pair_key(a, b);
        for (h = pair_hash(key) & t->mmask; t->merge_key[h] && t->merge_key[h] != key;
             h = (h + 1) & t->mmask) {
        }
        if (!t->merge_key[h]) { /* the first (lowest) rank of a pair wins */
            t->merge_key[h] = key;
            t->merge_rank[h] = rank;
            t->merge_id[h] = m;
        }
        rank++;
    }
    t->n_merges = rank;
done:
    tfm__free(ctx, data, size + 1);
    return st;
}

static tfm_status load_config(tfm_ctx *ctx, const char *path, tfm_tokenizer *t) {
    static const char *const keys[] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    static const int which[] = {TFM_TOKEN_BOS, TFM_TOKEN_EOS, TFM_TOKEN_UNK, TFM_TOKEN_PAD};
    tfm__json_doc *doc = NULL;
    const tfm__json *root;
    size_t k;
    tfm_status st = tfm__json_parse_file(ctx, path, NULL, &doc);
    if (st != TFM_OK) return st;
    root = tfm__json_root(doc);
    if (!tfm__json_is(root, TFM__JSON_OBJECT)) {
        tfm__json_free(doc);
        return tfm__err(ctx, TFM_ERR_FORMAT, "%s: expected a JSON object", path);
    }
    for (k = 0; k < 4; k++) {
        const tfm__json *v = tfm__json_get(root, keys[k]);
        if (tfm__json_is(v, TFM__JSON_OBJECT)) v = tfm__json_get(v, "content");
        if (tfm__json_is(v, TFM__JSON_STRING)) {
            int32_t id = tfm__tok_lookup2(t, "", 0, v->s, v->n);
            if (id < 0) {
                st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: '%s': token '%s' is not in the vocabulary",
                              path, keys[k], v->s);
                break;
            }
            t->special[which[k]] = id;
        }
    }
    {
        const tfm__json *ml = tfm__json_get(root, "model_max_length");
        if (ml && ml->type == TFM__JSON_NUMBER && ml->num > 0 && ml->num < 2147483647.0)
            t->max_length = (int32_t)ml->num;
    }
    tfm__json_free(doc);
    return st;
}

tfm_status tfm__bpe_load(tfm_ctx *ctx, const char *vocab_path, const char *merges_path,
                         const char *config_path, tfm_tokenizer *t) {
    uint32_t bu[256];
    int16_t inv[512];
    int32_t i, eot;
    size_t total = 0;
    tfm_status st = load_vocab(ctx, vocab_path, t);
    if (st != TFM_OK) return st;
    st = load_merges(ctx, merges_path, t);
    if (st != TFM_OK) return st;
    eot = tfm__tok_lookup2(t, "", 0, "<|endoftext|>", 13);
    t->special[TFM_TOKEN_BOS] = t->special[TFM_TOKEN_EOS] = t->special[TFM_TOKEN_UNK] = eot;
    if (config_path && (st = load_config(ctx, config_path, t)) != TFM_OK) return st;
    for (i = 0; i < TFM__N_SPECIAL; i++) tfm__tok_add_special(t, t->special[i]);
    /* the single-byte symbols */
    byte_to_unicode(bu);
    for (i = 0; i < 512; i++) inv[i] = -1;
    for (i = 0; i < 256; i++) {
        char u[4];
        int l = tfm__utf8_encode(bu[i], u);
        inv[bu[i]] = (int16_t)i;
        t->byte_id[i] = tfm__tok_lookup2(t, "", 0, u, (size_t)l);
        if (t->byte_id[i] < 0)
            return tfm__err(ctx, TFM_ERR_FORMAT, "%s: no token for byte 0x%02X ('%.*s')",
                            vocab_path, (unsigned)i, l, u);
    }
    /* every token's bytes, for decoding: mapped characters turn back into
     * their byte, any other character (an added token) stays as UTF-8 */
    t->bytes_off = (uint32_t *)tfm__alloc(ctx, ((size_t)t->n_vocab + 1) * sizeof(uint32_t));
    t->bytes_size = t->blob_size;
    t->bytes = (char *)tfm__alloc_nozero(ctx, t->bytes_size);
    if (!t->bytes_off || !t->bytes)
        return tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory", vocab_path);
    for (i = 0; i < t->n_vocab; i++) {
        const unsigned char *s = (const unsigned char *)tfm__tok_str(t, i);
        size_t l = tfm__tok_len(t, i), j = 0;
        t->bytes_off[i] = (uint32_t)total;
        while (j < l) {
            uint32_t cp;
            int cl = tfm__utf8_decode(s, l, j, &cp);
            if (cl == 0) return tfm__err(ctx, TFM_ERR_FORMAT, "%s: id %d: invalid UTF-8",
                                         vocab_path, (int)i);
            if (cp < 512 && inv[cp] >= 0) {
                t->bytes[total++] = (char)inv[cp];
            } else {
                memcpy(t->bytes + total, s + j, (size_t)cl);
                total += (size_t)cl;
            }
            j += (size_t)cl;
        }
    }
    t->bytes_off[t->n_vocab] = (uint32_t)total;
    return TFM_OK;
}

// ---- encoding -------------------------------------------------------------------------

static int rank_pair(const tfm_tokenizer *t, int32_t a, int32_t b, double *key, int32_t *merged) {
    uint64_t k = pair_key(a, b);
    uint32_t h;
    for (h = pair_hash(k) & t->mmask; t->merge_key[h]; h = (h + 1) & t->mmask)
        if (t->merge_key[h] == k) {
            *key = (double)t->merge_rank[h];
            *merged = t->merge_id[h];
            return 1;
        }
    return 0;
}

enum { C_SPACE, C_LETTER, C_NUMBER, C_OTHER };

static int cls_of(uint32_t cp) {
    if (cp < 128) {
        if ((cp | 32) >= 'a' && (cp | 32) <= 'z') return C_LETTER;
        if (cp >= '0' && cp <= '9') return C_NUMBER;
        if (cp == ' ' || (cp >= 9 && cp <= 13)) return C_SPACE;
        return C_OTHER;
    }
    if (tfm__uni_is_space(cp)) return C_SPACE;
    if (tfm__uni_is_letter(cp)) return C_LETTER;
    if (tfm__uni_is_number(cp)) return C_NUMBER;
    return C_OTHER;
}

/* Byte-level BPE of one pre-token s[bs, be). */
static tfm_status encode_piece(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s, size_t bs,
                               size_t be, int32_t base, tfm__sym *sym, tfm__ids *out) {
    int32_t n = (int32_t)(be - bs), k;
    tfm_status st;
    for (k = 0; k < n; k++) {
        sym[k].id = t->byte_id[(unsigned char)s[bs + (size_t)k]];
        sym[k].start = (int32_t)bs + k;
        sym[k].end = (int32_t)bs + k + 1;
        sym[k].prev = k - 1;
        sym[k].next = k + 1 < n ? k + 1 : -1;
    }
    st = tfm__bpe_merge(ctx, t, sym, n, rank_pair);
    for (k = 0; st == TFM_OK && k >= 0; k = sym[k].next)
        st = tfm__ids_push(ctx, out, sym[k].id, base + sym[k].start, base + sym[k].end);
    return st;
}

tfm_status tfm__bpe_encode(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s, size_t n,
                           int32_t base, tfm__ids *out) {
    /* code points of the chunk with their byte offsets (pos[m] = n) */
    size_t m = 0, i, total;
    uint32_t *cp;
    uint32_t *pos;
    uint8_t *cl;
    tfm__sym *sym;
    void *mem;
    tfm_status st = TFM_OK;
    if (!tfm__mul_size(n + 1, 2 * sizeof(uint32_t) + 1 + sizeof(tfm__sym), &total))
        return tfm__err(ctx, TFM_ERR_RANGE, "encode: text too long");
    mem = tfm__alloc_nozero(ctx, total);
    if (!mem) return tfm__err(ctx, TFM_ERR_NOMEM, "encode: out of memory");
    sym = (tfm__sym *)mem;
    cp = (uint32_t *)(sym + n + 1);
    pos = cp + n + 1;
    cl = (uint8_t *)(pos + n + 1);
    for (i = 0; i < n;) {
        int l = tfm__utf8_decode((const unsigned char *)s, n, i, &cp[m]);
        if (l == 0) l = 1; /* validated by the caller */
        pos[m] = (uint32_t)i;
        cl[m] = (uint8_t)cls_of(cp[m]);
        m++;
        i += (size_t)l;
    }
    pos[m] = (uint32_t)n;
    for (i = 0; i < m && st == TFM_OK;) {
        size_t j = i, k = i;
        uint32_t c = cp[i];
        /* 's 't 're 've 'm 'll 'd */
        if (c == '\'' && i + 1 < m) {
            uint32_t c1 = cp[i + 1], c2 = i + 2 < m ? cp[i + 2] : 0;
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') j = i + 2;
            else if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
                     (c1 == 'l' && c2 == 'l'))
                j = i + 3;
        }
        if (j == i) {
            /* ` ?X+` for letters, numbers, others: an optional space first */
            if (c == ' ' && i + 1 < m && cl[i + 1] != C_SPACE) k = i + 1;
            if (cl[k] != C_SPACE) {
                int want = cl[k];
                for (j = k; j < m && cl[j] == want; j++) {
                }
            } else {
                /* \s+(?!\S) then \s+: a run before a non-space leaves its last
                 * space to the next piece, unless the run is one char */
                for (j = i; j < m && cl[j] == C_SPACE; j++) {
                }
                if (j < m && j - i >= 2) j--;
            }
        }
        st = encode_piece(ctx, t, s, pos[i], pos[j], base, sym, out);
        i = j;
    }
    tfm__free(ctx, mem, total);
    return st;
}
