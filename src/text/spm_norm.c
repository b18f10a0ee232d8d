/*
 * SentencePiece normalization: the precompiled character map and the
 * whitespace rules of NormalizerSpec, with a raw-offset for every
 * normalized byte (for the offsets of the encoding).
 *
 * precompiled_charsmap layout: u32 little-endian T, then T bytes of
 * double-array trie units (darts-clone, u32 each), then the replacement
 * strings, each NUL-terminated. A unit packs: bits 0-7 the label (bit 31
 * set marks a value unit, whose low 31 bits are the value), bit 8 "has a
 * value child", bit 9 selects a <<8 scale of the offset in bits 10-31.
 * Walking a key: start at unit 0, pos ^= offset(unit); for each byte c:
 * pos ^= c, the unit there must carry label c, pos ^= its offset; when it
 * has a value child, units[pos].value is the replacement of key[0, i].
 *
 * Legend: n = bytes of the raw text, m = bytes of the normalized text.
 */
#include "spm.h"

#include <string.h>

// ---- normalized text buffer ---------------------------------------------------------

void tfm__spm_ntext_free(tfm_ctx *ctx, tfm__spm_ntext *x) {
    if (x->s) tfm__free(ctx, x->s, x->cap);
    if (x->o) tfm__free(ctx, x->o, (x->cap + 1) * sizeof(int32_t));
    x->s = NULL;
    x->o = NULL;
    x->n = x->cap = 0;
}

static tfm_status nt_reserve(tfm_ctx *ctx, tfm__spm_ntext *x, size_t more) {
    size_t nc;
    char *ns;
    int32_t *no;
    if (x->n + more <= x->cap) return TFM_OK;
    nc = x->cap ? x->cap : 64;
    while (nc < x->n + more) {
        if (nc > ((size_t)INT32_MAX) / 2)
            return tfm__err(ctx, TFM_ERR_RANGE, "sentencepiece: normalized text too long");
        nc *= 2;
    }
    ns = (char *)tfm__alloc_nozero(ctx, nc);
    no = (int32_t *)tfm__alloc_nozero(ctx, (nc + 1) * sizeof(int32_t));
    if (!ns || !no) {
        if (ns) tfm__free(ctx, ns, nc);
        if (no) tfm__free(ctx, no, (nc + 1) * sizeof(int32_t));
        return tfm__err(ctx, TFM_ERR_NOMEM, "sentencepiece: out of memory");
    }
    if (x->cap) {
        memcpy(ns, x->s, x->n);
        memcpy(no, x->o, (x->n + 1) * sizeof(int32_t));
    }
    {
        size_t keep = x->n;
        tfm__spm_ntext_free(ctx, x);
        x->n = keep;
    }
    x->s = ns;
    x->o = no;
    x->cap = nc;
    return TFM_OK;
}

static tfm_status nt_put(tfm_ctx *ctx, tfm__spm_ntext *x, const char *p, size_t l,
                         int32_t orig) {
    size_t i;
    tfm_status st = nt_reserve(ctx, x, l);
    if (st != TFM_OK) return st;
    for (i = 0; i < l; i++) {
        x->s[x->n] = p[i];
        x->o[x->n++] = orig;
    }
    return TFM_OK;
}

// ---- the character map ----------------------------------------------------------------

static uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void tfm__spm_norm_free(tfm_ctx *ctx, tfm__spm_norm *nm) {
    if (nm->units) tfm__free(ctx, nm->units, nm->n_units * sizeof(uint32_t));
    if (nm->strs) tfm__free(ctx, nm->strs, nm->n_strs);
    nm->units = NULL;
    nm->strs = NULL;
    nm->n_units = nm->n_strs = 0;
}

tfm_status tfm__spm_charsmap(tfm_ctx *ctx, const char *what, const uint8_t *blob,
                             size_t size, size_t at, tfm__spm_norm *nm) {
    size_t tsize, i;
    if (size < 4)
        return tfm__err(ctx, TFM_ERR_FORMAT, "%s: precompiled_charsmap of %zu bytes at byte %zu "
                        "is too short for its header", what, size, at);
    tsize = rd_u32(blob);
    if (tsize < 4 || tsize % 4 != 0 || tsize > size - 4)
        return tfm__err(ctx, TFM_ERR_FORMAT, "%s: precompiled_charsmap at byte %zu: trie of %zu "
                        "bytes does not fit the %zu-byte blob (or is not whole units)", what, at,
                        tsize, size);
    nm->n_units = tsize / 4;
    nm->n_strs = size - 4 - tsize;
    if (nm->n_strs && blob[size - 1] != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT, "%s: precompiled_charsmap at byte %zu: the "
                        "replacement strings do not end with a NUL", what, at);
    nm->units = (uint32_t *)tfm__alloc_nozero(ctx, nm->n_units * sizeof(uint32_t));
    nm->strs = nm->n_strs ? (char *)tfm__alloc_nozero(ctx, nm->n_strs) : NULL;
    if (!nm->units || (nm->n_strs && !nm->strs)) {
        tfm__spm_norm_free(ctx, nm);
        return tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory (precompiled_charsmap)", what);
    }
    for (i = 0; i < nm->n_units; i++) nm->units[i] = rd_u32(blob + 4 + 4 * i);
    if (nm->n_strs) memcpy(nm->strs, blob + 4 + tsize, nm->n_strs);
    return TFM_OK;
}

static uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
static int unit_has_leaf(uint32_t u) { return (u >> 8) & 1u; }
static uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* SentencePiece keeps at most this many matches of one lookup. */
#define MAX_MATCHES 32

/* Longest key of the map that prefixes s[0, n): its length (0: none) and
 * its replacement's offset in *value. A walk that leaves the unit array
 * (a corrupt map) ends the search. */
static size_t map_longest(const tfm__spm_norm *nm, const char *s, size_t n, uint32_t *value) {
    size_t pos, i, best = 0, found = 0;
    uint32_t u;
    pos = unit_offset(nm->units[0]);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        pos ^= c;
        if (pos >= nm->n_units) break;
        u = nm->units[pos];
        if (unit_label(u) != c) break;
        pos ^= unit_offset(u);
        if (unit_has_leaf(u)) {
            if (pos >= nm->n_units) break;
            if (found < MAX_MATCHES) {
                best = i + 1;
                *value = unit_value(nm->units[pos]);
            }
            found++;
        }
    }
    return best;
}

// ---- prefix tables -------------------------------------------------------------------

const tfm__spm_pfx *tfm__spm_ptab_find(const tfm__spm_ptab *tab, const char *blob, uint32_t h,
                                       const char *s, size_t len) {
    uint32_t slot;
    if (!tab->count) return NULL; /* a model without such pieces */
    for (slot = (h ^ (h >> 15)) & tab->mask;; slot = (slot + 1) & tab->mask) {
        const tfm__spm_pfx *e = &tab->e[slot];
        if (e->len == 0) return NULL;
        if (e->hash == h && e->len == len && memcmp(blob + e->off, s, len) == 0) return e;
    }
}

size_t tfm__spm_ptab_longest(const tfm__spm_ptab *tab, const char *blob, const char *s,
                             size_t n) {
    uint32_t h = TFM__SPM_FNV0;
    size_t k, best = 0;
    if (!tab->count) return 0;
    for (k = 0; k < n; k++) {
        const tfm__spm_pfx *e;
        h = TFM__SPM_FNV(h, s[k]);
        e = tfm__spm_ptab_find(tab, blob, h, s, k + 1);
        if (!e) break; /* nothing continues this prefix */
        if (e->id >= 0) best = k + 1;
    }
    return best;
}

// ---- normalization --------------------------------------------------------------------

static const char k_space[] = "\xE2\x96\x81"; /* U+2581 */

/* One normalization step at s[0, n) (n > 0): the replacement (*rep, *rl)
 * of the next *used raw bytes. */
static tfm_status norm_prefix(tfm_ctx *ctx, const tfm__spm_norm *nm, const tfm__spm_ptab *user,
                              const char *blob, const char *s, size_t n, const char **rep,
                              size_t *rl, size_t *used) {
    size_t l;
    uint32_t cp;
    if (user && user->count && (l = tfm__spm_ptab_longest(user, blob, s, n)) > 0) {
        *rep = s;
        *rl = *used = l;
        return TFM_OK;
    }
    if (nm->units) {
        uint32_t v = 0;
        l = map_longest(nm, s, n, &v);
        if (l > 0) {
            if (v >= nm->n_strs)
                return tfm__err(ctx, TFM_ERR_FORMAT, "sentencepiece: precompiled_charsmap: "
                                "replacement offset %u outside its %zu-byte table",
                                (unsigned)v, nm->n_strs);
            *rep = nm->strs + v;
            *rl = strlen(nm->strs + v); /* the table ends with a NUL */
            *used = l;
            return TFM_OK;
        }
    }
    l = (size_t)tfm__utf8_decode((const unsigned char *)s, n, 0, &cp);
    if (l == 0) { /* not UTF-8 (the callers validate): one byte becomes U+FFFD */
        *rep = "\xEF\xBF\xBD";
        *rl = 3;
        *used = 1;
        return TFM_OK;
    }
    *rep = s;
    *rl = *used = l;
    return TFM_OK;
}

static tfm_status add_ws(tfm_ctx *ctx, const tfm__spm_norm *nm, tfm__spm_ntext *out,
                         int32_t consumed) {
    return nm->escape_ws ? nt_put(ctx, out, k_space, 3, consumed)
                         : nt_put(ctx, out, " ", 1, consumed);
}

tfm_status tfm__spm_normalize(tfm_ctx *ctx, const tfm__spm_norm *nm, const tfm__spm_ptab *user,
                              const char *blob, const char *s, size_t n, tfm__spm_ntext *out) {
    size_t consumed = 0, rl, used;
    const char *rep;
    int prev_space;
    tfm_status st;
    out->n = 0;
    if ((st = nt_reserve(ctx, out, n + 3)) != TFM_OK) return st;
    /* leading spaces go */
    if (nm->remove_extra_ws) {
        while (consumed < n) {
            st = norm_prefix(ctx, nm, user, blob, s + consumed, n - consumed, &rep, &rl, &used);
            if (st != TFM_OK) return st;
            if (!(rl == 1 && rep[0] == ' ')) break;
            consumed += used;
        }
    }
    if (consumed == n) {
        out->o[0] = (int32_t)consumed;
        return TFM_OK;
    }
    if (nm->add_dummy_prefix && (st = add_ws(ctx, nm, out, (int32_t)consumed)) != TFM_OK)
        return st;
    prev_space = nm->remove_extra_ws;
    while (consumed < n) {
        size_t i;
        st = norm_prefix(ctx, nm, user, blob, s + consumed, n - consumed, &rep, &rl, &used);
        if (st != TFM_OK) return st;
        /* a run of spaces keeps its first one */
        while (prev_space && rl > 0 && rep[0] == ' ') {
            rep++;
            rl--;
        }
        if (rl > 0) {
            for (i = 0; i < rl; i++) {
                st = nm->escape_ws && rep[i] == ' '
                         ? nt_put(ctx, out, k_space, 3, (int32_t)consumed)
                         : nt_put(ctx, out, rep + i, 1, (int32_t)consumed);
                if (st != TFM_OK) return st;
            }
            prev_space = rep[rl - 1] == ' ';
        }
        consumed += used;
        if (!nm->remove_extra_ws) prev_space = 0;
    }
    /* trailing spaces go */
    if (nm->remove_extra_ws) {
        const char *sp = nm->escape_ws ? k_space : " ";
        size_t sl = nm->escape_ws ? 3 : 1;
        while (out->n >= sl && memcmp(out->s + out->n - sl, sp, sl) == 0) {
            out->n -= sl;
            consumed = (size_t)out->o[out->n];
        }
    }
    out->o[out->n] = (int32_t)consumed;
    return TFM_OK;
}
