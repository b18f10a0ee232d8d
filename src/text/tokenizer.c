/*
 * Tokenizers: the public API, format detection, the vocabulary index, and
 * the steps every format shares (special strings in raw text, special
 * tokens around segments, truncation, the size protocol, batches).
 */
#define _POSIX_C_SOURCE 200112L
#include "tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

// ---- small helpers ------------------------------------------------------------

tfm_status tfm__ids_push(tfm_ctx *ctx, tfm__ids *v, int32_t id, int32_t start,
                         int32_t end) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64, bytes;
        int32_t *nd;
        if (!tfm__mul_size(nc, 3 * sizeof(int32_t), &bytes))
            return tfm__err(ctx, TFM_ERR_RANGE, "tokenizer: too many tokens");
        nd = (int32_t *)tfm__realloc(ctx, v->d, v->cap * 3 * sizeof(int32_t), bytes);
        if (!nd) return tfm__err(ctx, TFM_ERR_NOMEM, "tokenizer: out of memory");
        v->d = nd;
        v->cap = nc;
    }
    v->d[3 * v->n] = id;
    v->d[3 * v->n + 1] = start;
    v->d[3 * v->n + 2] = end;
    v->n++;
    return TFM_OK;
}

static void ids_free(tfm_ctx *ctx, tfm__ids *v) {
    if (v->d) tfm__free(ctx, v->d, v->cap * 3 * sizeof(int32_t));
    v->d = NULL;
    v->n = v->cap = 0;
}

tfm_status tfm__sbuf_put(tfm_ctx *ctx, tfm__sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        char *np;
        while (nc < b->n + n + 1) {
            if (nc > ((size_t)-1) / 2) return tfm__err(ctx, TFM_ERR_RANGE, "decode: too long");
            nc *= 2;
        }
        np = (char *)tfm__realloc(ctx, b->p, b->cap, nc);
        if (!np) return tfm__err(ctx, TFM_ERR_NOMEM, "decode: out of memory");
        b->p = np;
        b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return TFM_OK;
}

// ---- vocabulary index ----------------------------------------------------------

static uint32_t tok_hash(const char *pre, size_t npre, const char *s, size_t n) {
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < npre; i++) h = (h ^ (unsigned char)pre[i]) * 16777619u;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h ^ (h >> 15);
}

tfm_status tfm__tok_index(tfm_ctx *ctx, tfm_tokenizer *t, const char *what) {
    size_t pos = 0, hsize = 16;
    int32_t i;
    t->off = (uint32_t *)tfm__alloc(ctx, ((size_t)t->n_vocab + 1) * sizeof(uint32_t));
    t->is_special = (uint8_t *)tfm__alloc(ctx, (size_t)t->n_vocab + 1);
    if (!t->off || !t->is_special)
        return tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory", what);
    for (i = 0; i < t->n_vocab; i++) {
        size_t l = strlen(t->blob + pos);
        t->off[i] = (uint32_t)pos;
        if (l > t->max_token_bytes) t->max_token_bytes = l;
        pos += l + 1;
    }
    t->off[t->n_vocab] = (uint32_t)pos;
    while (hsize < (size_t)t->n_vocab * 2) hsize *= 2;
    t->hmask = (uint32_t)(hsize - 1);
    t->hash = (int32_t *)tfm__alloc(ctx, hsize * sizeof(int32_t));
    if (!t->hash) return tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory", what);
    for (i = 0; i < t->n_vocab; i++) {
        const char *s = tfm__tok_str(t, i);
        size_t l = tfm__tok_len(t, i);
        uint32_t h = tok_hash(NULL, 0, s, l) & t->hmask;
        for (;; h = (h + 1) & t->hmask) {
            int32_t e = t->hash[h];
            if (e == 0) {
                t->hash[h] = i + 1;
                break;
            }
            if (tfm__tok_len(t, e - 1) == l && memcmp(tfm__tok_str(t, e - 1), s, l) == 0) {
                t->hash[h] = i + 1; /* a later duplicate wins */
                break;
            }
        }
    }
    return TFM_OK;
}

int32_t tfm__tok_lookup2(const tfm_tokenizer *t, const char *pre, size_t npre,
                         const char *s, size_t n) {
    size_t l = npre + n;
    uint32_t h;
    if (l > t->max_token_bytes) return -1;
    h = tok_hash(pre, npre, s, n) & t->hmask;
    for (;; h = (h + 1) & t->hmask) {
        int32_t e = t->hash[h];
        const char *v;
        if (e == 0) return -1;
        v = tfm__tok_str(t, e - 1);
        if (tfm__tok_len(t, e - 1) == l && memcmp(v, pre, npre) == 0 &&
            memcmp(v + npre, s, n) == 0)
            return e - 1;
    }
}

void tfm__tok_add_special(tfm_tokenizer *t, int32_t id) {
    int i, j;
    if (id < 0 || t->n_added >= TFM__MAX_ADDED) return;
    for (i = 0; i < t->n_added; i++)
        if (t->added[i] == id) return;
    /* keep longest first so the longest string wins at a position */
    for (i = 0; i < t->n_added && tfm__tok_len(t, t->added[i]) >= tfm__tok_len(t, id); i++) {
    }
    for (j = t->n_added; j > i; j--) t->added[j] = t->added[j - 1];
    t->added[i] = id;
    t->n_added++;
    t->is_special[id] = 1;
}

// ---- load -------------------------------------------------------------------------

void tfm_tokenizer_params_init(tfm_tokenizer_params *dst, size_t struct_size) {
    tfm_tokenizer_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.type = TFM_TOKENIZER_AUTO;
    p.lower_case = -1;
    p.strip_accents = -1;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* dir + "/" + name into buf (or the folder of a file path when is_file). */
static int join_path(char *buf, size_t size, const char *path, int is_file,
                     const char *name) {
    size_t dl = strlen(path);
    int n;
    if (is_file) {
        while (dl > 0 && path[dl - 1] != '/') dl--;
        if (dl == 0) {
            n = snprintf(buf, size, "%s", name);
            return n >= 0 && (size_t)n < size;
        }
        dl--; /* drop the slash, added back below */
    }
    n = snprintf(buf, size, "%.*s/%s", (int)dl, path, name);
    return n >= 0 && (size_t)n < size;
}

/* The SentencePiece model of a folder into buf: SENTENCEPIECE, or AUTO when
 * it has none (a Marian folder's source side comes first). */
static int spm_in_folder(char *buf, size_t size, const char *dir) {
    static const char *const names[] = {"source.spm", "target.spm", "spiece.model",
                                        "sentencepiece.bpe.model", "tokenizer.model"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (join_path(buf, size, dir, 0, names[i]) && tfm__file_exists(buf))
            return TFM_TOKENIZER_SENTENCEPIECE;
    return TFM_TOKENIZER_AUTO;
}

void tfm_tokenizer_free(tfm_tokenizer *t) {
    tfm_ctx *ctx;
    if (!t) return;
    ctx = t->ctx;
    if (t->blob) tfm__free(ctx, t->blob, t->blob_size);
    if (t->off) tfm__free(ctx, t->off, ((size_t)t->n_vocab + 1) * sizeof(uint32_t));
    if (t->is_special) tfm__free(ctx, t->is_special, (size_t)t->n_vocab + 1);
    if (t->hash) tfm__free(ctx, t->hash, ((size_t)t->hmask + 1) * sizeof(int32_t));
    if (t->scores) tfm__free(ctx, t->scores, (size_t)t->n_vocab * sizeof(float));
    if (t->merge_key) {
        size_t m = (size_t)t->mmask + 1;
        tfm__free(ctx, t->merge_key, m * sizeof(uint64_t));
    }
    if (t->merge_rank) tfm__free(ctx, t->merge_rank, ((size_t)t->mmask + 1) * sizeof(int32_t));
    if (t->merge_id) tfm__free(ctx, t->merge_id, ((size_t)t->mmask + 1) * sizeof(int32_t));
    if (t->bytes) tfm__free(ctx, t->bytes, t->bytes_size);
    if (t->bytes_off) tfm__free(ctx, t->bytes_off, ((size_t)t->n_vocab + 1) * sizeof(uint32_t));
    tfm__spm_free(ctx, t->spm);
    tfm__free(ctx, t, sizeof *t);
}

tfm_status tfm_tokenizer_load(tfm_ctx *ctx, const char *path,
                              const tfm_tokenizer_params *params,
                              tfm_tokenizer **out) {
    tfm_tokenizer_params p = tfm_tokenizer_params_default();
    tfm_tokenizer *t;
    tfm_status st;
    struct stat sb;
    int is_dir, type, i;
    char a[4096], b[4096], c[4096];
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "tokenizer_load: out is NULL");
    *out = NULL;
    if (!path) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "tokenizer_load: path is NULL");
    if ((st = TFM__PARAMS_READ(ctx, p, params, "tokenizer_load: params"))) return st;
    if (stat(path, &sb) != 0)
        return tfm__err(ctx, tfm__open_status(errno), "tokenizer: cannot open '%s': %s", path,
                        strerror(errno));
    is_dir = S_ISDIR(sb.st_mode);
    type = p.type;
    if (type == TFM_TOKENIZER_AUTO) {
        if (is_dir) {
            if (join_path(a, sizeof a, path, 0, "tokenizer.bin") && tfm__file_exists(a))
                type = TFM_TOKENIZER_LLAMA2C;
            else if (join_path(a, sizeof a, path, 0, "vocab.txt") && tfm__file_exists(a))
                type = TFM_TOKENIZER_WORDPIECE;
            else if (join_path(a, sizeof a, path, 0, "vocab.json") && tfm__file_exists(a) &&
                     join_path(b, sizeof b, path, 0, "merges.txt") && tfm__file_exists(b))
                type = TFM_TOKENIZER_BPE;
            else if ((type = spm_in_folder(a, sizeof a, path)) == TFM_TOKENIZER_AUTO)
                return tfm__err(ctx, TFM_ERR_NOT_FOUND,
                                "tokenizer: no tokenizer.bin, vocab.txt, "
                                "vocab.json + merges.txt or SentencePiece model in '%s'", path);
        } else if (ends_with(path, ".model") || ends_with(path, ".spm")) {
            type = TFM_TOKENIZER_SENTENCEPIECE;
        } else if (ends_with(path, ".txt")) {
            type = TFM_TOKENIZER_WORDPIECE;
        } else if (ends_with(path, ".json")) {
            type = TFM_TOKENIZER_BPE;
        } else {
            type = TFM_TOKENIZER_LLAMA2C;
        }
    }
    if (type < TFM_TOKENIZER_LLAMA2C || type > TFM_TOKENIZER_SENTENCEPIECE)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "tokenizer_load: unknown type %d", type);
    /* file names for the chosen type */
    switch (type) {
    case TFM_TOKENIZER_LLAMA2C:
        if (is_dir) { if (!join_path(a, sizeof a, path, 0, "tokenizer.bin")) goto toolong; }
        else if ((size_t)snprintf(a, sizeof a, "%s", path) >= sizeof a) goto toolong;
        break;
    case TFM_TOKENIZER_SENTENCEPIECE:
        if (is_dir) {
            if (spm_in_folder(a, sizeof a, path) == TFM_TOKENIZER_AUTO)
                return tfm__err(ctx, TFM_ERR_NOT_FOUND,
                                "tokenizer: no SentencePiece model in '%s'", path);
        } else if ((size_t)snprintf(a, sizeof a, "%s", path) >= sizeof a) goto toolong;
        break;
    case TFM_TOKENIZER_WORDPIECE:
        if (is_dir) { if (!join_path(a, sizeof a, path, 0, "vocab.txt")) goto toolong; }
        else if ((size_t)snprintf(a, sizeof a, "%s", path) >= sizeof a) goto toolong;
        if (!join_path(c, sizeof c, path, !is_dir, "tokenizer_config.json")) goto toolong;
        break;
    default:
        if (is_dir) { if (!join_path(a, sizeof a, path, 0, "vocab.json")) goto toolong; }
        else if ((size_t)snprintf(a, sizeof a, "%s", path) >= sizeof a) goto toolong;
        if (!join_path(b, sizeof b, path, !is_dir, "merges.txt")) goto toolong;
        if (!join_path(c, sizeof c, path, !is_dir, "tokenizer_config.json")) goto toolong;
        break;
    }
    t = (tfm_tokenizer *)tfm__alloc(ctx, sizeof *t);
    if (!t) return tfm__err(ctx, TFM_ERR_NOMEM, "tokenizer: out of memory");
    t->ctx = ctx;
    t->type = type;
    t->space_id = -1;
    for (i = 0; i < TFM__N_SPECIAL; i++) t->special[i] = -1;
    switch (type) {
    case TFM_TOKENIZER_LLAMA2C: st = tfm__tokbin_load(ctx, a, t); break;
    case TFM_TOKENIZER_SENTENCEPIECE: st = tfm__spm_load(ctx, a, t); break;
    case TFM_TOKENIZER_WORDPIECE:
        st = tfm__wordpiece_load(ctx, a, tfm__file_exists(c) ? c : NULL, &p, t);
        break;
    default:
        st = tfm__bpe_load(ctx, a, b, tfm__file_exists(c) ? c : NULL, t);
        break;
    }
    if (st != TFM_OK) {
        tfm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return TFM_OK;
toolong:
    return tfm__err(ctx, TFM_ERR_INVALID_ARG, "tokenizer: path too long: '%s'", path);
}

// ---- queries ----------------------------------------------------------------------

int tfm_tokenizer_type_of(const tfm_tokenizer *t) { return t ? t->type : 0; }
int32_t tfm_tokenizer_vocab_size(const tfm_tokenizer *t) { return t ? t->n_vocab : 0; }
int32_t tfm_tokenizer_max_length(const tfm_tokenizer *t) { return t ? t->max_length : 0; }

int32_t tfm_tokenizer_special_id(const tfm_tokenizer *t, tfm_special_token which) {
    if (!t || (int)which < 0 || (int)which >= TFM__N_SPECIAL) return -1;
    return t->special[which];
}

const char *tfm_tokenizer_id_to_token(const tfm_tokenizer *t, int32_t id, size_t *len) {
    if (!t || id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = tfm__tok_len(t, id);
    return tfm__tok_str(t, id);
}

int32_t tfm_tokenizer_token_to_id(const tfm_tokenizer *t, const char *token, size_t len) {
    if (!t || !token) return -1;
    if (len == TFM_STRLEN) len = strlen(token);
    return tfm__tok_lookup2(t, "", 0, token, len);
}

// ---- encode -----------------------------------------------------------------------

void tfm_encode_params_init(tfm_encode_params *dst, size_t struct_size) {
    tfm_encode_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.add_special = 1;
    p.max_length = 0;
    p.truncation = TFM_TRUNCATE_LONGEST_FIRST;
    p.parse_special = 1;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

static tfm_status encode_chunk(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s,
                               size_t n, int32_t base, tfm__ids *out) {
    if (n == 0) return TFM_OK;
    switch (t->type) {
    case TFM_TOKENIZER_WORDPIECE: return tfm__wordpiece_encode(ctx, t, s, n, base, out);
    case TFM_TOKENIZER_BPE: return tfm__bpe_encode(ctx, t, s, n, base, out);
    case TFM_TOKENIZER_SENTENCEPIECE: return tfm__spm_encode(ctx, t, s, n, base, out);
    default: return tfm__tokbin_encode(ctx, t, s, n, out);
    }
}

/* One segment: validates, splits at special strings, encodes the chunks. */
static tfm_status encode_segment(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s,
                                 size_t n, int parse_special, const char *what,
                                 tfm__ids *out) {
    tfm_status st = tfm__utf8_check(ctx, s, n, what);
    size_t i, start = 0;
    if (st != TFM_OK) return st;
    if (n > (size_t)INT32_MAX)
        return tfm__err(ctx, TFM_ERR_RANGE, "%s: text of %zu bytes is too long", what, n);
    if (!parse_special || t->n_added == 0) return encode_chunk(ctx, t, s, n, 0, out);
    for (i = 0; i < n;) {
        int k, hit = -1;
        for (k = 0; k < t->n_added; k++) {
            int32_t id = t->added[k];
            size_t l = tfm__tok_len(t, id);
            if (l && l <= n - i && s[i] == tfm__tok_str(t, id)[0] &&
                memcmp(s + i, tfm__tok_str(t, id), l) == 0) {
                hit = k;
                break;
            }
        }
        if (hit < 0) {
            i++;
            continue;
        }
        st = encode_chunk(ctx, t, s + start, i - start, (int32_t)start, out);
        if (st != TFM_OK) return st;
        {
            int32_t id = t->added[hit];
            size_t l = tfm__tok_len(t, id);
            st = tfm__ids_push(ctx, out, id, (int32_t)i, (int32_t)(i + l));
            if (st != TFM_OK) return st;
            i += l;
            start = i;
        }
    }
    return encode_chunk(ctx, t, s + start, n - start, (int32_t)start, out);
}

/* The special tokens of an encoding: before A, between A and B, after B. */
typedef struct layout {
    int32_t pre[2], mid[2], post[2];
    int npre, nmid, npost;
} layout;

static void make_layout(const tfm_tokenizer *t, int add, int has_pair, layout *l) {
    memset(l, 0, sizeof *l);
    if (!add) return;
    if (t->type == TFM_TOKENIZER_WORDPIECE) {
        if (t->special[TFM_TOKEN_CLS] >= 0) l->pre[l->npre++] = t->special[TFM_TOKEN_CLS];
        if (t->special[TFM_TOKEN_SEP] >= 0) {
            l->mid[l->nmid++] = t->special[TFM_TOKEN_SEP];
            if (has_pair) l->post[l->npost++] = t->special[TFM_TOKEN_SEP];
        }
    } else if (t->type == TFM_TOKENIZER_LLAMA2C) {
        if (t->special[TFM_TOKEN_BOS] >= 0) {
            l->pre[l->npre++] = t->special[TFM_TOKEN_BOS];
            if (has_pair) l->mid[l->nmid++] = t->special[TFM_TOKEN_BOS];
        }
    } else if (t->type == TFM_TOKENIZER_SENTENCEPIECE) {
        /* Marian: A </s>, and A B </s> for a pair */
        if (t->special[TFM_TOKEN_EOS] >= 0) {
            if (has_pair) l->post[l->npost++] = t->special[TFM_TOKEN_EOS];
            else l->mid[l->nmid++] = t->special[TFM_TOKEN_EOS];
        }
    }
}

/* Encodes into owned lists; *na / *nb are the kept lengths of A and B. */
static tfm_status encode_lists(tfm_ctx *ctx, const tfm_tokenizer *t, const char *text,
                               size_t text_len, const char *pair, size_t pair_len,
                               const tfm_encode_params *p, tfm__ids *a, tfm__ids *b,
                               layout *lay, size_t *na, size_t *nb) {
    tfm_status st;
    size_t nspec, budget;
    st = encode_segment(ctx, t, text, text_len, p->parse_special, "encode: text", a);
    if (st != TFM_OK) return st;
    if (pair) {
        st = encode_segment(ctx, t, pair, pair_len, p->parse_special, "encode: pair", b);
        if (st != TFM_OK) return st;
    }
    make_layout(t, p->add_special, pair != NULL, lay);
    nspec = (size_t)(lay->npre + lay->nmid + lay->npost);
    *na = a->n;
    *nb = b->n;
    if (p->max_length <= 0 || *na + *nb + nspec <= (size_t)p->max_length) return TFM_OK;
    if (p->truncation == TFM_TRUNCATE_NONE)
        return tfm__err(ctx, TFM_ERR_RANGE,
                        "encode: %zu tokens, more than max_length %d (truncation off)",
                        *na + *nb + nspec, (int)p->max_length);
    if ((size_t)p->max_length < nspec)
        return tfm__err(ctx, TFM_ERR_RANGE,
                        "encode: max_length %d leaves no room for %zu special tokens",
                        (int)p->max_length, nspec);
    budget = (size_t)p->max_length - nspec;
    switch (p->truncation) {
    case TFM_TRUNCATE_ONLY_FIRST:
        if (*nb > budget)
            return tfm__err(ctx, TFM_ERR_RANGE,
                            "encode: the pair alone has %zu tokens, past max_length %d "
                            "(truncation only_first)", *nb, (int)p->max_length);
        *na = budget - *nb;
        break;
    case TFM_TRUNCATE_ONLY_SECOND:
        if (*na > budget)
            return tfm__err(ctx, TFM_ERR_RANGE,
                            "encode: the text alone has %zu tokens, past max_length %d "
                            "(truncation only_second)", *na, (int)p->max_length);
        *nb = budget - *na;
        break;
    default:
        /* drop one token at a time from the longer segment (the second on ties) */
        while (*na + *nb > budget) {
            if (*na > *nb) (*na)--;
            else (*nb)--;
        }
        break;
    }
    return TFM_OK;
}

static void put(int32_t *ids, int32_t *types, int32_t *offs, size_t k, int32_t id,
                int32_t type, int32_t s, int32_t e) {
    ids[k] = id;
    if (types) types[k] = type;
    if (offs) {
        offs[2 * k] = s;
        offs[2 * k + 1] = e;
    }
}

tfm_status tfm_tokenizer_encode(tfm_ctx *ctx, const tfm_tokenizer *tok, const char *text,
                                size_t text_len, const char *pair, size_t pair_len,
                                const tfm_encode_params *params, int32_t *ids,
                                int32_t *type_ids, int32_t *offsets, size_t capacity,
                                size_t *n_out) {
    tfm_encode_params p = tfm_encode_params_default();
    tfm__ids a = {0}, b = {0};
    layout lay;
    size_t na = 0, nb = 0, total, k = 0, i;
    int j;
    tfm_status st;
    if (n_out) *n_out = 0;
    if (!tok || !n_out || (!text && text_len))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "encode: NULL tokenizer, text or n_out");
    if (!ids && capacity)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "encode: ids is NULL with capacity %zu",
                        capacity);
    if ((st = TFM__PARAMS_READ(ctx, p, params, "encode: params"))) return st;
    if (!text) text = "";
    if (text_len == TFM_STRLEN) text_len = strlen(text);
    if (pair && pair_len == TFM_STRLEN) pair_len = strlen(pair);
    st = encode_lists(ctx, tok, text, text_len, pair, pair_len, &p, &a, &b, &lay, &na, &nb);
    if (st != TFM_OK) goto done;
    total = na + nb + (size_t)(lay.npre + lay.nmid + lay.npost);
    *n_out = total;
    if (!ids && capacity == 0) goto done;
    if (capacity < total) {
        st = tfm__err(ctx, TFM_ERR_RANGE, "encode: %zu tokens do not fit in capacity %zu",
                      total, capacity);
        goto done;
    }
    for (j = 0; j < lay.npre; j++) put(ids, type_ids, offsets, k++, lay.pre[j], 0, -1, -1);
    for (i = 0; i < na; i++)
        put(ids, type_ids, offsets, k++, a.d[3 * i], 0, a.d[3 * i + 1], a.d[3 * i + 2]);
    for (j = 0; j < lay.nmid; j++)
        put(ids, type_ids, offsets, k++, lay.mid[j], pair && tok->type == TFM_TOKENIZER_LLAMA2C,
            -1, -1);
    for (i = 0; i < nb; i++)
        put(ids, type_ids, offsets, k++, b.d[3 * i], 1, b.d[3 * i + 1], b.d[3 * i + 2]);
    for (j = 0; j < lay.npost; j++) put(ids, type_ids, offsets, k++, lay.post[j], 1, -1, -1);
done:
    ids_free(ctx, &a);
    ids_free(ctx, &b);
    return st;
}

// ---- decode -----------------------------------------------------------------------

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* HF clean_up_tokenization: sequential replacements over b->p[from, n). */
static void cleanup(tfm__sbuf *b, size_t from) {
    static const char *const pat[] = {" .", " ?", " !", " ,", " ' ", " n't",
                                       " 'm", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};
    size_t r;
    for (r = 0; r < sizeof pat / sizeof pat[0]; r++) {
        size_t fl = strlen(pat[r]), tl = strlen(to[r]), i = from, o = from;
        if (b->n - from < fl) continue;
        while (i < b->n) {
            if (i + fl <= b->n && memcmp(b->p + i, pat[r], fl) == 0) {
                memmove(b->p + o, to[r], tl);
                o += tl;
                i += fl;
            } else {
                b->p[o++] = b->p[i++];
            }
        }
        b->n = o;
        b->p[o] = 0;
    }
}

/* The bytes one token adds after prev (-1 at the start), without flags. */
static tfm_status piece(tfm_ctx *ctx, const tfm_tokenizer *t, int32_t prev, int32_t id,
                        int first, tfm__sbuf *out) {
    const char *s = tfm__tok_str(t, id);
    size_t l = tfm__tok_len(t, id);
    switch (t->type) {
    case TFM_TOKENIZER_WORDPIECE:
        if (!first && l >= 2 && s[0] == '#' && s[1] == '#')
            return tfm__sbuf_put(ctx, out, s + 2, l - 2);
        if (!first) {
            /* the WordPiece decoder's own clean-up, token by token */
            size_t at = out->n;
            tfm_status st = tfm__sbuf_put(ctx, out, " ", 1);
            if (st == TFM_OK) st = tfm__sbuf_put(ctx, out, s, l);
            if (st == TFM_OK) cleanup(out, at);
            return st;
        }
        return tfm__sbuf_put(ctx, out, s, l);
    case TFM_TOKENIZER_BPE:
        return tfm__sbuf_put(ctx, out, t->bytes + t->bytes_off[id],
                      t->bytes_off[id + 1] - t->bytes_off[id]);
    default:
        if ((prev < 0 || prev == t->special[TFM_TOKEN_BOS]) && l > 0 && s[0] == ' ') {
            s++;
            l--;
        }
        if (l == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>' &&
            hexval(s[3]) >= 0 && hexval(s[4]) >= 0) {
            char c = (char)(hexval(s[3]) * 16 + hexval(s[4]));
            return tfm__sbuf_put(ctx, out, &c, 1);
        }
        return tfm__sbuf_put(ctx, out, s, l);
    }
}

static tfm_status deliver(tfm_ctx *ctx, const tfm__sbuf *b, char *buf, size_t size,
                          size_t *n_out, const char *what) {
    *n_out = b->n;
    if (!buf && size == 0) return TFM_OK;
    if (!buf || size < b->n + 1)
        return tfm__err(ctx, TFM_ERR_RANGE, "%s: %zu bytes (plus NUL) do not fit in %zu", what,
                        b->n, size);
    if (b->n) memcpy(buf, b->p, b->n);
    buf[b->n] = 0;
    return TFM_OK;
}

tfm_status tfm_tokenizer_decode(tfm_ctx *ctx, const tfm_tokenizer *t, const int32_t *ids,
                                size_t n, uint32_t flags, char *buf, size_t size,
                                size_t *n_out) {
    tfm__sbuf b = {NULL, 0, 0};
    size_t i;
    int first = 1;
    tfm_status st = TFM_OK;
    if (n_out) *n_out = 0;
    if (!t || !n_out || (!ids && n))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "decode: NULL tokenizer, ids or n_out");
    if (t->type == TFM_TOKENIZER_SENTENCEPIECE) {
        for (i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= t->n_vocab)
                return tfm__err(ctx, TFM_ERR_RANGE, "decode: id %d at position %zu outside "
                                "[0, %d)", (int)ids[i], i, (int)t->n_vocab);
        st = tfm__spm_decode(ctx, t, ids, n, flags, 1, 0, &b);
        n = 0; /* done: on to the common ending */
    } else {
        st = tfm__sbuf_put(ctx, &b, "", 0);
    }
    for (i = 0; i < n && st == TFM_OK; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_vocab) {
            st = tfm__err(ctx, TFM_ERR_RANGE, "decode: id %d at position %zu outside [0, %d)",
                          (int)id, i, (int)t->n_vocab);
            break;
        }
        if ((flags & TFM_DECODE_SKIP_SPECIAL) && t->is_special[id]) continue;
        st = piece(ctx, t, i ? ids[i - 1] : -1, id, first, &b);
        first = 0;
    }
    if (st == TFM_OK) {
        if (flags & TFM_DECODE_CLEANUP) cleanup(&b, 0);
        st = deliver(ctx, &b, buf, size, n_out, "decode");
    }
    if (b.p) tfm__free(ctx, b.p, b.cap);
    return st;
}

tfm_status tfm_tokenizer_decode_next(tfm_ctx *ctx, const tfm_tokenizer *t, int32_t prev_id,
                                     int32_t id, uint32_t flags, char *buf, size_t size,
                                     size_t *n_out) {
    tfm__sbuf b = {NULL, 0, 0};
    tfm_status st;
    if (n_out) *n_out = 0;
    if (!t || !n_out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "decode_next: NULL argument");
    if (id < 0 || id >= t->n_vocab)
        return tfm__err(ctx, TFM_ERR_RANGE, "decode_next: id %d outside [0, %d)", (int)id,
                        (int)t->n_vocab);
    if (prev_id >= t->n_vocab) prev_id = -1;
    if (t->type == TFM_TOKENIZER_SENTENCEPIECE) {
        /* the first piece's space goes at the start and after a control
         * piece (BOS) */
        int at_start = prev_id < 0 || (t->is_special[prev_id] &&
                                       prev_id != t->special[TFM_TOKEN_UNK]);
        st = tfm__spm_decode(ctx, t, &id, 1, flags, at_start, 1, &b);
    } else {
        st = tfm__sbuf_put(ctx, &b, "", 0);
        if (st == TFM_OK && !((flags & TFM_DECODE_SKIP_SPECIAL) && t->is_special[id]))
            st = piece(ctx, t, prev_id, id, prev_id < 0, &b);
    }
    if (st == TFM_OK) st = deliver(ctx, &b, buf, size, n_out, "decode_next");
    if (b.p) tfm__free(ctx, b.p, b.cap);
    return st;
}

// ---- batches ----------------------------------------------------------------------

void tfm_batch_free(tfm_batch *b) {
    tfm_ctx *ctx;
    size_t cells;
    if (!b) return;
    ctx = b->ctx;
    cells = (size_t)b->n_seq * (size_t)b->seq_len;
    if (b->ids) tfm__free(ctx, b->ids, cells * sizeof(int32_t));
    if (b->type_ids) tfm__free(ctx, b->type_ids, cells * sizeof(int32_t));
    if (b->attention_mask) tfm__free(ctx, b->attention_mask, cells * sizeof(int32_t));
    if (b->lengths) tfm__free(ctx, b->lengths, (size_t)b->n_seq * sizeof(int32_t));
    tfm__free(ctx, b, sizeof *b);
}

tfm_status tfm_tokenizer_encode_batch(tfm_ctx *ctx, const tfm_tokenizer *tok,
                                      const char *const *texts, const size_t *lens,
                                      const char *const *pairs, const size_t *pair_lens,
                                      int32_t n, const tfm_encode_params *params,
                                      int pad_to_max, tfm_batch **out) {
    tfm_encode_params p = tfm_encode_params_default();
    tfm_batch *b;
    size_t maxlen = 0, cells;
    int32_t i;
    tfm_status st;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "encode_batch: out is NULL");
    *out = NULL;
    if (!tok || !texts || n < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "encode_batch: NULL tokenizer/texts or n < 1");
    if ((st = TFM__PARAMS_READ(ctx, p, params, "encode_batch: params"))) return st;
    if (pad_to_max && p.max_length <= 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "encode_batch: pad_to_max without max_length");
    /* pass 1: lengths */
    for (i = 0; i < n; i++) {
        size_t len;
        const char *pr = pairs ? pairs[i] : NULL;
        st = tfm_tokenizer_encode(ctx, tok, texts[i], lens ? lens[i] : TFM_STRLEN, pr,
                                  pr ? (pair_lens ? pair_lens[i] : TFM_STRLEN) : 0, &p, NULL,
                                  NULL, NULL, 0, &len);
        if (st != TFM_OK) return tfm__err_wrap(ctx, st, "encode_batch: text %d", (int)i);
        if (len > maxlen) maxlen = len;
    }
    if (pad_to_max) maxlen = (size_t)p.max_length;
    if (maxlen == 0) maxlen = 1; /* keep the matrix non-empty */
    if (maxlen > (size_t)INT32_MAX || !tfm__mul_size((size_t)n, maxlen, &cells) ||
        !tfm__mul_size(cells, sizeof(int32_t), &cells))
        return tfm__err(ctx, TFM_ERR_RANGE, "encode_batch: batch too large");
    cells /= sizeof(int32_t);
    b = (tfm_batch *)tfm__alloc(ctx, sizeof *b);
    if (!b) return tfm__err(ctx, TFM_ERR_NOMEM, "encode_batch: out of memory");
    b->ctx = ctx;
    b->n_seq = n;
    b->seq_len = (int32_t)maxlen;
    b->pad_id = tok->special[TFM_TOKEN_PAD] >= 0 ? tok->special[TFM_TOKEN_PAD] : 0;
    b->ids = (int32_t *)tfm__alloc(ctx, cells * sizeof(int32_t));
    b->type_ids = (int32_t *)tfm__alloc(ctx, cells * sizeof(int32_t));
    b->attention_mask = (int32_t *)tfm__alloc(ctx, cells * sizeof(int32_t));
    b->lengths = (int32_t *)tfm__alloc(ctx, (size_t)n * sizeof(int32_t));
    if (!b->ids || !b->type_ids || !b->attention_mask || !b->lengths) {
        tfm_batch_free(b);
        return tfm__err(ctx, TFM_ERR_NOMEM, "encode_batch: out of memory");
    }
    for (i = 0; i < n; i++) {
        size_t len, k;
        int32_t *row = b->ids + (size_t)i * maxlen;
        const char *pr = pairs ? pairs[i] : NULL;
        st = tfm_tokenizer_encode(ctx, tok, texts[i], lens ? lens[i] : TFM_STRLEN, pr,
                                  pr ? (pair_lens ? pair_lens[i] : TFM_STRLEN) : 0, &p, row,
                                  b->type_ids + (size_t)i * maxlen, NULL, maxlen, &len);
        if (st != TFM_OK) {
            tfm_batch_free(b);
            return tfm__err_wrap(ctx, st, "encode_batch: text %d", (int)i);
        }
        b->lengths[i] = (int32_t)len;
        for (k = 0; k < maxlen; k++) {
            b->attention_mask[(size_t)i * maxlen + k] = k < len;
            if (k >= len) row[k] = b->pad_id;
        }
    }
    *out = b;
    return TFM_OK;
}
