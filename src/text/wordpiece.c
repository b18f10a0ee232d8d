/*
 * WordPiece with the behaviour of Hugging Face's BertTokenizer:
 *  1. clean: drop U+0000, U+FFFD and control characters (Cc, Cf, Co, Cs
 *     except \t \n \r); whitespace (" \t\n\r" and Zs) becomes a space;
 *  2. put spaces around CJK ideographs;
 *  3. split on whitespace; per word: lower-case (uncased vocabularies),
 *     strip accents (NFD, then drop Mn), split off every punctuation char;
 *  4. greedy longest-match-first into vocabulary pieces, "##" on pieces
 *     that continue a word; a word with no split, or longer than
 *     max_input_chars_per_word (100) characters, is [UNK].
 * Offsets point into the original text: every normalized character keeps
 * the byte range of the character it came from.
 */
#include "tokenizer.h"
#include "../io/json.h"

#include <string.h>

tfm_status tfm__wordpiece_load(tfm_ctx *ctx, const char *vocab_path, const char *config_path,
                               const tfm_tokenizer_params *p, tfm_tokenizer *t) {
    char *data = NULL;
    size_t size, i, line_start, nlines = 0, blob = 0;
    tfm__json_doc *doc = NULL;
    const tfm__json *root = NULL;
    int lower = 1, strip = -1;
    int64_t maxlen = 0;
    const char *names[TFM__N_SPECIAL] = {NULL, NULL, "[UNK]", "[PAD]", "[CLS]", "[SEP]",
                                         "[MASK]"};
    static const char *const keys[TFM__N_SPECIAL] = {NULL, NULL, "unk_token", "pad_token",
                                                     "cls_token", "sep_token", "mask_token"};
    tfm_status st;
    int k;
    if (config_path) {
        st = tfm__json_parse_file(ctx, config_path, NULL, &doc);
        if (st != TFM_OK) return st;
        root = tfm__json_root(doc);
        if (!tfm__json_is(root, TFM__JSON_OBJECT)) {
            st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: expected a JSON object", config_path);
            goto done;
        }
        if ((st = tfm__json_get_bool(ctx, root, config_path, "do_lower_case", 1, &lower)))
            goto done;
        {
            const tfm__json *sa = tfm__json_get(root, "strip_accents");
            if (sa && sa->type == TFM__JSON_BOOL) strip = sa->boolean;
        }
        {
            const tfm__json *ml = tfm__json_get(root, "model_max_length");
            if (ml && ml->type == TFM__JSON_NUMBER && ml->num > 0 && ml->num < 2147483647.0)
                maxlen = (int64_t)ml->num;
        }
        for (k = 0; k < TFM__N_SPECIAL; k++) {
            const tfm__json *v;
            if (!keys[k]) continue;
            v = tfm__json_get(root, keys[k]);
            if (tfm__json_is(v, TFM__JSON_STRING)) names[k] = v->s;
            else if (tfm__json_is(v, TFM__JSON_OBJECT) &&
                     tfm__json_is(tfm__json_get(v, "content"), TFM__JSON_STRING))
                names[k] = tfm__json_get(v, "content")->s;
        }
    }
    if (p->lower_case >= 0) lower = p->lower_case != 0;
    if (p->strip_accents >= 0) strip = p->strip_accents != 0;
    if (strip < 0) strip = lower;
    t->lower = lower;
    t->strip = strip;
    t->max_word_chars = 100;
    t->max_length = (int32_t)maxlen;

    st = tfm__read_file(ctx, vocab_path, (size_t)-1, "tokenizer", &data, &size);
    if (st != TFM_OK) goto done;
    /* pass 1: count lines, check them */
    for (i = 0, line_start = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            size_t e = i;
            if (i == size && i == line_start) break; /* no last empty line */
            if (e > line_start && data[e - 1] == '\r') e--;
            if (memchr(data + line_start, 0, e - line_start)) {
                st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: line %zu: NUL byte", vocab_path,
                              nlines + 1);
                goto done;
            }
            if (tfm__utf8_validate(data + line_start, e - line_start) < e - line_start) {
                st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: line %zu: invalid UTF-8 at byte %zu",
                              vocab_path, nlines + 1,
                              line_start + tfm__utf8_validate(data + line_start, e - line_start));
                goto done;
            }
            blob += e - line_start + 1;
            nlines++;
            line_start = i + 1;
        }
    }
    if (nlines == 0 || nlines >= (size_t)INT32_MAX) {
        st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: %s", vocab_path,
                      nlines ? "too many lines" : "empty vocabulary");
        goto done;
    }
    t->n_vocab = (int32_t)nlines;
    t->blob_size = blob;
    t->blob = (char *)tfm__alloc_nozero(ctx, blob);
    if (!t->blob) {
        st = tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory", vocab_path);
        goto done;
    }
    blob = 0;
    for (i = 0, line_start = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            size_t e = i;
            if (i == size && i == line_start) break;
            if (e > line_start && data[e - 1] == '\r') e--;
            memcpy(t->blob + blob, data + line_start, e - line_start);
            blob += e - line_start;
            t->blob[blob++] = 0;
            line_start = i + 1;
        }
    }
    st = tfm__tok_index(ctx, t, vocab_path);
    if (st != TFM_OK) goto done;
    for (k = 0; k < TFM__N_SPECIAL; k++)
        if (names[k]) t->special[k] = tfm__tok_lookup2(t, "", 0, names[k], strlen(names[k]));
    t->special[TFM_TOKEN_BOS] = t->special[TFM_TOKEN_CLS];
    t->special[TFM_TOKEN_EOS] = t->special[TFM_TOKEN_SEP];
    if (t->special[TFM_TOKEN_UNK] < 0) {
        st = tfm__err(ctx, TFM_ERR_FORMAT, "%s: no unknown token '%s' in the vocabulary",
                      vocab_path, names[TFM_TOKEN_UNK]);
        goto done;
    }
    for (k = TFM_TOKEN_UNK; k < TFM__N_SPECIAL; k++) tfm__tok_add_special(t, t->special[k]);
done:
    if (data) tfm__free(ctx, data, size + 1);
    tfm__json_free(doc);
    return st;
}

// ---- encoding -----------------------------------------------------------------------

/* One word being built: code points with the byte range each came from. */
typedef struct word {
    uint32_t *cp;
    int32_t *os, *oe;     /* [cap] original byte start / end              */
    char *bytes;          /* [4 * cap] UTF-8 of the word                  */
    int32_t *cb;          /* [cap + 1] byte offset of each char in bytes  */
    size_t n, cap;
} word;

static tfm_status emit_word(tfm_ctx *ctx, const tfm_tokenizer *t, word *w, int32_t base,
                            tfm__ids *out) {
    size_t i, start = 0, saved = out->n, nb = 0;
    tfm_status st;
    if (w->n == 0) return TFM_OK;
    if (w->n > (size_t)t->max_word_chars) goto unk;
    for (i = 0; i < w->n; i++) {
        w->cb[i] = (int32_t)nb;
        nb += (size_t)tfm__utf8_encode(w->cp[i], w->bytes + nb);
    }
    w->cb[w->n] = (int32_t)nb;
    while (start < w->n) {
        size_t npre = start ? 2 : 0, end = start;
        int32_t id = -1;
        /* the longest candidate that can still fit a vocabulary string */
        while (end < w->n && (size_t)(w->cb[end + 1] - w->cb[start]) + npre <= t->max_token_bytes)
            end++;
        for (; end > start; end--) {
            id = tfm__tok_lookup2(t, "##", npre, w->bytes + w->cb[start],
                                  (size_t)(w->cb[end] - w->cb[start]));
            if (id >= 0) break;
        }
        if (id < 0) {
            out->n = saved;
            goto unk;
        }
        st = tfm__ids_push(ctx, out, id, base + w->os[start], base + w->oe[end - 1]);
        if (st != TFM_OK) return st;
        start = end;
    }
    w->n = 0;
    return TFM_OK;
unk:
    st = tfm__ids_push(ctx, out, t->special[TFM_TOKEN_UNK], base + w->os[0],
                       base + w->oe[w->n - 1]);
    w->n = 0;
    return st;
}

static void word_add(word *w, uint32_t cp, int32_t s, int32_t e) {
    w->cp[w->n] = cp;
    w->os[w->n] = s;
    w->oe[w->n] = e;
    w->n++;
}

tfm_status tfm__wordpiece_encode(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s,
                                 size_t n, int32_t base, tfm__ids *out) {
    /* A word can grow past its bytes through decomposition (at most 4 code
     * points per char, see tfm__uni_nfd; "I with dot" lowers to 2): size the
     * buffers for 4 * n + 4 code points. */
    word w;
    size_t cap, i, b1, b4;
    void *mem;
    size_t total;
    tfm_status st = TFM_OK;
    memset(&w, 0, sizeof w);
    if (!tfm__mul_size(n, 4, &cap) || cap > ((size_t)-1) / 64)
        return tfm__err(ctx, TFM_ERR_RANGE, "encode: text too long");
    cap += 8;
    b1 = cap * sizeof(int32_t);
    b4 = cap * 4;
    total = cap * sizeof(uint32_t) + 2 * b1 + b4 + b1 + sizeof(int32_t);
    mem = tfm__alloc_nozero(ctx, total);
    if (!mem) return tfm__err(ctx, TFM_ERR_NOMEM, "encode: out of memory");
    w.cp = (uint32_t *)mem;
    w.os = (int32_t *)(w.cp + cap);
    w.oe = w.os + cap;
    w.cb = w.oe + cap;
    w.bytes = (char *)(w.cb + cap + 1);
    w.cap = cap;
    for (i = 0; i < n && st == TFM_OK;) {
        uint32_t cp, parts[8];
        int l = tfm__utf8_decode((const unsigned char *)s, n, i, &cp), np, k;
        int32_t os = (int32_t)i, oe;
        if (l == 0) l = 1; /* validated by the caller */
        i += (size_t)l;
        oe = (int32_t)i;
        /* 1. clean */
        if (cp == 0 || cp == 0xFFFD || tfm__uni_bert_control(cp)) continue;
        if (tfm__uni_bert_whitespace(cp) || tfm__uni_is_space(cp)) {
            st = emit_word(ctx, t, &w, base, out);
            continue;
        }
        /* 2. CJK ideographs stand alone */
        if (tfm__uni_is_cjk(cp)) {
            st = emit_word(ctx, t, &w, base, out);
            if (st != TFM_OK) break;
            /* lower-casing and accents leave them as they are, except
             * compatibility ideographs with a canonical decomposition */
            np = t->strip ? tfm__uni_nfd(cp, parts, 8) : (parts[0] = cp, 1);
            for (k = 0; k < np; k++)
                if (!tfm__uni_is_mark_nonspacing(parts[k])) word_add(&w, parts[k], os, oe);
            st = emit_word(ctx, t, &w, base, out);
            continue;
        }
        /* 3. lower-case and strip accents */
        np = 1;
        parts[0] = cp;
        if (t->lower) {
            if (cp == 0x130) { /* full lowercase of U+0130: i + combining dot */
                parts[0] = 'i';
                parts[1] = 0x307;
                np = 2;
            } else {
                parts[0] = tfm__uni_lower(cp);
            }
        }
        if (t->strip) {
            uint32_t d[8];
            int nd = 0, m;
            for (k = 0; k < np; k++) nd += tfm__uni_nfd(parts[k], d + nd, 8 - nd);
            for (m = 0, np = 0; m < nd; m++)
                if (!tfm__uni_is_mark_nonspacing(d[m])) parts[np++] = d[m];
        }
        /* punctuation splits */
        for (k = 0; k < np && st == TFM_OK; k++) {
            if (tfm__uni_bert_punct(parts[k])) {
                st = emit_word(ctx, t, &w, base, out);
                if (st != TFM_OK) break;
                word_add(&w, parts[k], os, oe);
                st = emit_word(ctx, t, &w, base, out);
            } else {
                word_add(&w, parts[k], os, oe);
            }
        }
    }
    if (st == TFM_OK) st = emit_word(ctx, t, &w, base, out);
    tfm__free(ctx, mem, total);
    return st;
}
