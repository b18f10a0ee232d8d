/*
 * SentencePiece models: the ModelProto reader, unigram (Viterbi) and BPE
 * encoding, and decoding, with the results of SentencePiece 0.1.97.
 *
 * The protobuf reader is bounds-checked field by field: every key, varint
 * and length is checked against the end of its message, unknown fields of
 * every wire type (groups included) are skipped, and anything malformed is
 * TFM_ERR_FORMAT naming the message and the byte offset.
 *
 * Encoding = normalize (spm_norm.c), then segment the normalized text:
 *  - unigram: the best path through the lattice of pieces starting at each
 *    character, by piece score; a character no piece starts with is an
 *    unknown node scored min_score - 10; user-defined pieces score
 *    length * max_score - 0.1 so they win;
 *  - BPE: one symbol per character (a user-defined piece is one frozen
 *    symbol), then the adjacent pair whose merged piece has the highest
 *    score merges first (the leftmost on ties), with merge.c's heap;
 * then runs of unknown pieces become one unk id, or their UTF-8 bytes as
 * <0xNN> pieces when the model has byte fallback.
 *
 * Legend: V = vocabulary size, m = bytes of the normalized text.
 */
#include "spm.h"

#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// ---- protobuf wire reader ----------------------------------------------------------

typedef struct ldr {
    tfm_ctx *ctx;
    const char *path;
    const uint8_t *d;  /* the whole file */
} ldr;

typedef struct pbr {
    size_t pos, end;   /* current position and end of the message */
} pbr;

typedef struct pbf {
    uint32_t num;      /* field number                       */
    int wt;            /* wire type                          */
    uint64_t v;        /* VARINT value, I64 / I32 raw bits   */
    size_t at;         /* offset of the key in the file      */
    size_t off, len;   /* LEN payload                        */
} pbf;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

static tfm_status pb_fail(ldr *L, const char *msg, size_t at, const char *fmt, ...)
    TFM__PRINTF(4, 5);
static tfm_status pb_fail(ldr *L, const char *msg, size_t at, const char *fmt, ...) {
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return tfm__err(L->ctx, TFM_ERR_FORMAT, "sentencepiece '%s': %s: %s at byte %zu", L->path,
                    msg, detail, at);
}

static int pb_varint(const ldr *L, pbr *r, uint64_t *v) {
    uint64_t x = 0;
    int shift = 0;
    while (r->pos < r->end) {
        uint8_t b = L->d[r->pos++];
        if (shift == 63 && b > 1) return 0; /* past 64 bits */
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
        shift += 7;
        if (shift > 63) return 0;
    }
    return 0;
}

/* Reads one value of wire type wt (not a group) at r. */
static tfm_status pb_value(ldr *L, pbr *r, pbf *f, const char *msg) {
    uint64_t len;
    size_t at = r->pos;
    switch (f->wt) {
    case WT_VARINT:
        if (!pb_varint(L, r, &f->v)) return pb_fail(L, msg, at, "truncated or overlong varint");
        return TFM_OK;
    case WT_I64:
        if (r->end - r->pos < 8) return pb_fail(L, msg, at, "truncated 64-bit value");
        r->pos += 8;
        return TFM_OK;
    case WT_I32: {
        const uint8_t *p = L->d + r->pos;
        if (r->end - r->pos < 4) return pb_fail(L, msg, at, "truncated 32-bit value");
        f->v = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
        r->pos += 4;
        return TFM_OK;
    }
    case WT_LEN:
        if (!pb_varint(L, r, &len)) return pb_fail(L, msg, at, "truncated or overlong length");
        if (len > r->end - r->pos)
            return pb_fail(L, msg, at, "field %u: length %llu past the end of the message "
                           "(%zu bytes left)", (unsigned)f->num, (unsigned long long)len,
                           r->end - r->pos);
        f->off = r->pos;
        f->len = (size_t)len;
        r->pos += (size_t)len;
        return TFM_OK;
    default:
        return pb_fail(L, msg, f->at, "field %u: wire type %d", (unsigned)f->num, f->wt);
    }
}

static tfm_status pb_key(ldr *L, pbr *r, pbf *f, const char *msg) {
    uint64_t key;
    f->at = r->pos;
    if (!pb_varint(L, r, &key)) return pb_fail(L, msg, f->at, "truncated or overlong field key");
    if ((key >> 3) == 0 || (key >> 3) > 0x1FFFFFFFu)
        return pb_fail(L, msg, f->at, "field number %llu out of range",
                       (unsigned long long)(key >> 3));
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    return TFM_OK;
}

#define PB_MAX_GROUP_DEPTH 64

/* Reads the next field: *more = 0 at the end of the message. Groups are
 * skipped whole (f->wt stays WT_SGROUP). */
static tfm_status pb_next(ldr *L, pbr *r, pbf *f, const char *msg, int *more) {
    tfm_status st;
    *more = 0;
    if (r->pos >= r->end) return TFM_OK;
    if ((st = pb_key(L, r, f, msg)) != TFM_OK) return st;
    *more = 1;
    if (f->wt == WT_EGROUP) return pb_fail(L, msg, f->at, "end of group %u outside a group",
                                           (unsigned)f->num);
    if (f->wt == WT_SGROUP) {
        uint32_t open[PB_MAX_GROUP_DEPTH];
        int depth = 1;
        pbf g;
        open[0] = f->num;
        while (depth > 0) {
            if (r->pos >= r->end) return pb_fail(L, msg, f->at, "group %u never ends",
                                                 (unsigned)f->num);
            if ((st = pb_key(L, r, &g, msg)) != TFM_OK) return st;
            if (g.wt == WT_EGROUP) {
                if (g.num != open[depth - 1])
                    return pb_fail(L, msg, g.at, "end of group %u inside group %u",
                                   (unsigned)g.num, (unsigned)open[depth - 1]);
                depth--;
            } else if (g.wt == WT_SGROUP) {
                if (depth == PB_MAX_GROUP_DEPTH)
                    return pb_fail(L, msg, g.at, "groups nested past %d levels",
                                   PB_MAX_GROUP_DEPTH);
                open[depth++] = g.num;
            } else if ((st = pb_value(L, r, &g, msg)) != TFM_OK) {
                return st;
            }
        }
        return TFM_OK;
    }
    return pb_value(L, r, f, msg);
}

static tfm_status pb_want(ldr *L, const pbf *f, int wt, const char *msg, const char *field) {
    if (f->wt != wt)
        return pb_fail(L, msg, f->at, "%s (field %u) has wire type %d, not %d", field,
                       (unsigned)f->num, f->wt, wt);
    return TFM_OK;
}

// ---- the specs ----------------------------------------------------------------------

typedef struct span {
    size_t off, len;
    int set;
} span;

typedef struct trainer_spec {
    int64_t model_type;
    int byte_fallback, ws_suffix;
    span unk_surface, bos_piece, eos_piece, pad_piece;
} trainer_spec;

typedef struct norm_spec {
    int present;
    span map;
    size_t map_at;
    int add_dummy_prefix, remove_extra_ws, escape_ws;
} norm_spec;

/* TrainerSpec fields read here; others are skipped. */
enum {
    TS_MODEL_TYPE = 3, TS_WS_SUFFIX = 24, TS_BYTE_FALLBACK = 35, TS_UNK_SURFACE = 44,
    TS_BOS_PIECE = 46, TS_EOS_PIECE = 47, TS_PAD_PIECE = 48
};
/* NormalizerSpec fields. */
enum { NS_NAME = 1, NS_MAP = 2, NS_DUMMY = 3, NS_EXTRA_WS = 4, NS_ESCAPE_WS = 5 };
/* ModelProto fields. */
enum { MP_PIECES = 1, MP_TRAINER = 2, MP_NORMALIZER = 3, MP_DENORMALIZER = 5 };

static tfm_status parse_trainer(ldr *L, size_t off, size_t len, trainer_spec *ts) {
    pbr r;
    pbf f;
    int more;
    tfm_status st;
    const char *msg = "trainer_spec";
    r.pos = off;
    r.end = off + len;
    for (;;) {
        span *s = NULL;
        if ((st = pb_next(L, &r, &f, msg, &more)) != TFM_OK) return st;
        if (!more) return TFM_OK;
        switch (f.num) {
        case TS_MODEL_TYPE:
            if ((st = pb_want(L, &f, WT_VARINT, msg, "model_type")) != TFM_OK) return st;
            ts->model_type = (int64_t)f.v;
            if (f.v < 1 || f.v > 4)
                return pb_fail(L, msg, f.at, "model_type %lld is not UNIGRAM, BPE, WORD or CHAR",
                               (long long)(int64_t)f.v);
            break;
        case TS_WS_SUFFIX:
            if ((st = pb_want(L, &f, WT_VARINT, msg, "treat_whitespace_as_suffix")) != TFM_OK)
                return st;
            ts->ws_suffix = f.v != 0;
            break;
        case TS_BYTE_FALLBACK:
            if ((st = pb_want(L, &f, WT_VARINT, msg, "byte_fallback")) != TFM_OK) return st;
            ts->byte_fallback = f.v != 0;
            break;
        case TS_UNK_SURFACE: s = &ts->unk_surface; break;
        case TS_BOS_PIECE: s = &ts->bos_piece; break;
        case TS_EOS_PIECE: s = &ts->eos_piece; break;
        case TS_PAD_PIECE: s = &ts->pad_piece; break;
        default: break;
        }
        if (s) {
            if ((st = pb_want(L, &f, WT_LEN, msg, "a piece string")) != TFM_OK) return st;
            s->off = f.off;
            s->len = f.len;
            s->set = 1;
        }
    }
}

static tfm_status parse_norm(ldr *L, size_t off, size_t len, const char *msg, norm_spec *ns) {
    pbr r;
    pbf f;
    int more;
    tfm_status st;
    r.pos = off;
    r.end = off + len;
    ns->present = 1;
    for (;;) {
        int *flag = NULL;
        if ((st = pb_next(L, &r, &f, msg, &more)) != TFM_OK) return st;
        if (!more) return TFM_OK;
        switch (f.num) {
        case NS_NAME:
            if ((st = pb_want(L, &f, WT_LEN, msg, "name")) != TFM_OK) return st;
            break;
        case NS_MAP:
            if ((st = pb_want(L, &f, WT_LEN, msg, "precompiled_charsmap")) != TFM_OK) return st;
            ns->map.off = f.off;
            ns->map.len = f.len;
            ns->map.set = 1;
            ns->map_at = f.off;
            break;
        case NS_DUMMY: flag = &ns->add_dummy_prefix; break;
        case NS_EXTRA_WS: flag = &ns->remove_extra_ws; break;
        case NS_ESCAPE_WS: flag = &ns->escape_ws; break;
        default: break;
        }
        if (flag) {
            if ((st = pb_want(L, &f, WT_VARINT, msg, "a flag")) != TFM_OK) return st;
            *flag = f.v != 0;
        }
    }
}

/* One ModelProto.SentencePiece: piece (1), score (2, float), type (3). */
static tfm_status parse_piece(ldr *L, size_t off, size_t len, int32_t index, span *piece,
                              float *score, int *type) {
    pbr r;
    pbf f;
    int more;
    tfm_status st;
    char msg[48];
    snprintf(msg, sizeof msg, "pieces[%ld]", (long)index);
    r.pos = off;
    r.end = off + len;
    piece->off = off;
    piece->len = 0;
    *score = 0.0f;
    *type = TFM__SPM_NORMAL;
    for (;;) {
        if ((st = pb_next(L, &r, &f, msg, &more)) != TFM_OK) return st;
        if (!more) break;
        if (f.num == 1) {
            if ((st = pb_want(L, &f, WT_LEN, msg, "piece")) != TFM_OK) return st;
            piece->off = f.off;
            piece->len = f.len;
        } else if (f.num == 2) {
            uint32_t bits = (uint32_t)f.v;
            if ((st = pb_want(L, &f, WT_I32, msg, "score")) != TFM_OK) return st;
            memcpy(score, &bits, 4);
        } else if (f.num == 3) {
            if ((st = pb_want(L, &f, WT_VARINT, msg, "type")) != TFM_OK) return st;
            if (f.v < 1 || f.v > 6)
                return pb_fail(L, msg, f.at, "type %lld is not a piece type",
                               (long long)(int64_t)f.v);
            *type = (int)f.v;
        }
    }
    if (piece->len == 0) return pb_fail(L, msg, off, "empty piece");
    if (memchr(L->d + piece->off, 0, piece->len))
        return pb_fail(L, msg, piece->off, "NUL byte in the piece");
    return TFM_OK;
}

// ---- load ---------------------------------------------------------------------------

void tfm__spm_free(tfm_ctx *ctx, tfm__spm *sp) {
    if (!sp) return;
    if (sp->type) tfm__free(ctx, sp->type, sp->n_type);
    tfm__spm_norm_free(ctx, &sp->norm);
    tfm__spm_norm_free(ctx, &sp->denorm);
    if (sp->unk_surface) tfm__free(ctx, sp->unk_surface, sp->unk_surface_len + 1);
    if (sp->pieces.e)
        tfm__free(ctx, sp->pieces.e, ((size_t)sp->pieces.mask + 1) * sizeof(tfm__spm_pfx));
    if (sp->user.e)
        tfm__free(ctx, sp->user.e, ((size_t)sp->user.mask + 1) * sizeof(tfm__spm_pfx));
    tfm__free(ctx, sp, sizeof *sp);
}

static int in_trie(int type, int user_only) {
    if (user_only) return type == TFM__SPM_USER;
    return type == TFM__SPM_NORMAL || type == TFM__SPM_USER || type == TFM__SPM_UNUSED;
}

static tfm_status ptab_build(tfm_ctx *ctx, const tfm_tokenizer *t, const tfm__spm *sp,
                             int user_only, tfm__spm_ptab *tab) {
    size_t total = 0, size = 16, bytes;
    int32_t i;
    for (i = 0; i < t->n_vocab; i++)
        if (in_trie(sp->type[i], user_only)) total += tfm__tok_len(t, i);
    if (total == 0) return TFM_OK;
    while (size < total * 2) {
        if (size > ((size_t)UINT32_MAX) / 2)
            return tfm__err(ctx, TFM_ERR_RANGE, "sentencepiece: vocabulary too large");
        size *= 2;
    }
    if (!tfm__mul_size(size, sizeof(tfm__spm_pfx), &bytes))
        return tfm__err(ctx, TFM_ERR_RANGE, "sentencepiece: vocabulary too large");
    tab->e = (tfm__spm_pfx *)tfm__alloc(ctx, bytes);
    if (!tab->e) return tfm__err(ctx, TFM_ERR_NOMEM, "sentencepiece: out of memory (pieces)");
    tab->mask = (uint32_t)(size - 1);
    for (i = 0; i < t->n_vocab; i++) {
        const char *s = tfm__tok_str(t, i);
        size_t l = tfm__tok_len(t, i), k;
        uint32_t h = TFM__SPM_FNV0;
        if (!in_trie(sp->type[i], user_only)) continue;
        for (k = 0; k < l; k++) {
            uint32_t slot;
            h = TFM__SPM_FNV(h, s[k]);
            for (slot = (h ^ (h >> 15)) & tab->mask;; slot = (slot + 1) & tab->mask) {
                tfm__spm_pfx *e = &tab->e[slot];
                if (e->len == 0) {
                    e->hash = h;
                    e->off = t->off[i];
                    e->len = (uint32_t)(k + 1);
                    e->id = k + 1 == l ? i : -1;
                    tab->count++;
                    break;
                }
                if (e->hash == h && e->len == k + 1 && memcmp(t->blob + e->off, s, k + 1) == 0) {
                    if (k + 1 == l) e->id = i;
                    break;
                }
            }
        }
    }
    return TFM_OK;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* SentencePiece spells byte pieces "<0xNN>" with upper-case hex. */
static int byte_of_piece(const char *s, size_t l) {
    if (l != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
    if (hex_digit(s[3]) < 0 || hex_digit(s[4]) < 0) return -1;
    return hex_digit(s[3]) * 16 + hex_digit(s[4]);
}

static void norm_defaults(tfm__spm_norm *nm, const norm_spec *ns) {
    nm->add_dummy_prefix = ns->add_dummy_prefix;
    nm->remove_extra_ws = ns->remove_extra_ws;
    nm->escape_ws = ns->escape_ws;
}

/* The control piece named by the trainer spec (or its default), else -1. */
static int32_t control_id(const tfm_tokenizer *t, const tfm__spm *sp, const ldr *L,
                          const span *s, const char *def) {
    int32_t id = s->set ? tfm__tok_lookup2(t, "", 0, (const char *)L->d + s->off, s->len)
                        : tfm__tok_lookup2(t, "", 0, def, strlen(def));
    return id >= 0 && sp->type[id] == TFM__SPM_CONTROL ? id : -1;
}

static tfm_status spm_load_data(ldr *L, size_t size, tfm_tokenizer *t) {
    tfm_ctx *ctx = L->ctx;
    trainer_spec ts;
    norm_spec ns, dns;
    pbr r;
    pbf f;
    int more, pass;
    size_t blob = 0, npieces = 0;
    int32_t i;
    tfm__spm *sp;
    tfm_status st;
    memset(&ts, 0, sizeof ts);
    memset(&ns, 0, sizeof ns);
    memset(&dns, 0, sizeof dns);
    ts.model_type = TFM__SPM_UNIGRAM;
    ns.add_dummy_prefix = ns.remove_extra_ws = ns.escape_ws = 1;
    dns.add_dummy_prefix = dns.remove_extra_ws = dns.escape_ws = 1;
    /* pass 0 checks every piece and reads the specs; pass 1 copies */
    for (pass = 0; pass < 2; pass++) {
        int32_t k = 0;
        r.pos = 0;
        r.end = size;
        for (;;) {
            if ((st = pb_next(L, &r, &f, "ModelProto", &more)) != TFM_OK) return st;
            if (!more) break;
            if (f.num == MP_PIECES) {
                span piece;
                float score;
                int type;
                if ((st = pb_want(L, &f, WT_LEN, "ModelProto", "pieces")) != TFM_OK) return st;
                if (k == INT32_MAX - 1) return pb_fail(L, "ModelProto", f.at, "too many pieces");
                if ((st = parse_piece(L, f.off, f.len, k, &piece, &score, &type)) != TFM_OK)
                    return st;
                if (pass == 0) {
                    if (piece.len > ((size_t)UINT32_MAX) - 1 - blob)
                        return pb_fail(L, "ModelProto", f.at, "pieces too large");
                    blob += piece.len + 1;
                } else {
                    memcpy(t->blob + blob, L->d + piece.off, piece.len);
                    t->blob[blob + piece.len] = 0;
                    blob += piece.len + 1;
                    t->scores[k] = score;
                    t->spm->type[k] = (uint8_t)type;
                }
                k++;
            } else if (pass == 1) {
                continue;
            } else if (f.num == MP_TRAINER) {
                if ((st = pb_want(L, &f, WT_LEN, "ModelProto", "trainer_spec")) != TFM_OK)
                    return st;
                if ((st = parse_trainer(L, f.off, f.len, &ts)) != TFM_OK) return st;
            } else if (f.num == MP_NORMALIZER || f.num == MP_DENORMALIZER) {
                int norm = f.num == MP_NORMALIZER;
                const char *what = norm ? "normalizer_spec" : "denormalizer_spec";
                if ((st = pb_want(L, &f, WT_LEN, "ModelProto", what)) != TFM_OK) return st;
                if ((st = parse_norm(L, f.off, f.len, what, norm ? &ns : &dns)) != TFM_OK)
                    return st;
            }
        }
        if (pass == 0) {
            npieces = (size_t)k;
            if (npieces == 0)
                return tfm__err(ctx, TFM_ERR_FORMAT, "sentencepiece '%s': no pieces", L->path);
            if (ts.model_type == TFM__SPM_WORD || ts.model_type == TFM__SPM_CHAR)
                return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "sentencepiece '%s': model_type %s is "
                                "not supported (unigram and BPE are)", L->path,
                                ts.model_type == TFM__SPM_WORD ? "WORD" : "CHAR");
            if (ts.ws_suffix)
                return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "sentencepiece '%s': "
                                "treat_whitespace_as_suffix is not supported", L->path);
            t->n_vocab = (int32_t)npieces;
            t->blob_size = blob;
            t->blob = (char *)tfm__alloc_nozero(ctx, blob);
            t->scores = (float *)tfm__alloc_nozero(ctx, npieces * sizeof(float));
            sp = (tfm__spm *)tfm__alloc(ctx, sizeof *sp);
            if (sp) {
                t->spm = sp;
                sp->n_type = npieces;
                sp->type = (uint8_t *)tfm__alloc(ctx, npieces);
            }
            if (!t->blob || !t->scores || !sp || !sp->type)
                return tfm__err(ctx, TFM_ERR_NOMEM, "sentencepiece '%s': out of memory", L->path);
            blob = 0;
        }
    }
    sp = t->spm;
    if ((st = tfm__tok_index(ctx, t, "sentencepiece")) != TFM_OK) return st;
    /* the rules SentencePiece checks when it loads a model */
    sp->model_type = (int)ts.model_type;
    sp->byte_fallback = ts.byte_fallback;
    sp->unk_id = -1;
    sp->min_score = FLT_MAX;
    sp->max_score = FLT_MIN;
    for (i = 0; i < 256; i++) sp->byte_id[i] = -1;
    for (i = 0; i < t->n_vocab; i++) {
        const char *s = tfm__tok_str(t, i);
        size_t l = tfm__tok_len(t, i);
        int32_t j = tfm__tok_lookup2(t, "", 0, s, l);
        if (j != i)
            return tfm__err(ctx, TFM_ERR_FORMAT, "sentencepiece '%s': pieces[%ld] '%s' is "
                            "defined again at pieces[%ld]", L->path, (long)i, s, (long)j);
        switch (sp->type[i]) {
        case TFM__SPM_NORMAL:
            if (t->scores[i] < sp->min_score) sp->min_score = t->scores[i];
            if (t->scores[i] > sp->max_score) sp->max_score = t->scores[i];
            break;
        case TFM__SPM_UNKNOWN:
            if (sp->unk_id >= 0)
                return tfm__err(ctx, TFM_ERR_FORMAT, "sentencepiece '%s': pieces[%ld] '%s' is a "
                                "second unknown piece (pieces[%ld] is one)", L->path, (long)i, s,
                                (long)sp->unk_id);
            sp->unk_id = i;
            t->is_special[i] = 1;
            break;
        case TFM__SPM_CONTROL: t->is_special[i] = 1; break;
        case TFM__SPM_BYTE: {
            int b = byte_of_piece(s, l);
            if (!sp->byte_fallback)
                return tfm__err(ctx, TFM_ERR_FORMAT, "sentencepiece '%s': pieces[%ld] '%s' is a "
                                "byte piece but trainer_spec.byte_fallback is off", L->path,
                                (long)i, s);
            if (b < 0)
                return tfm__err(ctx, TFM_ERR_FORMAT, "sentencepiece '%s': pieces[%ld] '%s' is a "
                                "byte piece not spelled <0xNN>", L->path, (long)i, s);
            sp->byte_id[b] = i;
            break;
        }
        default: break;
        }
    }
    if (sp->unk_id < 0)
        return tfm__err(ctx, TFM_ERR_FORMAT, "sentencepiece '%s': no piece of type UNKNOWN",
                        L->path);
    t->special[TFM_TOKEN_UNK] = sp->unk_id;
    t->special[TFM_TOKEN_BOS] = control_id(t, sp, L, &ts.bos_piece, "<s>");
    t->special[TFM_TOKEN_EOS] = control_id(t, sp, L, &ts.eos_piece, "</s>");
    t->special[TFM_TOKEN_PAD] = control_id(t, sp, L, &ts.pad_piece, "<pad>");
    /* what an unknown piece decodes to */
    if (ts.unk_surface.set) {
        sp->unk_surface_len = ts.unk_surface.len;
        sp->unk_surface = tfm__strndup(ctx, (const char *)L->d + ts.unk_surface.off,
                                       ts.unk_surface.len);
    } else {
        sp->unk_surface_len = 5;
        sp->unk_surface = tfm__strdup(ctx, " \xE2\x81\x87 ");
    }
    if (!sp->unk_surface) {
        sp->unk_surface_len = 0;
        return tfm__err(ctx, TFM_ERR_NOMEM, "sentencepiece '%s': out of memory", L->path);
    }
    /* normalizers */
    norm_defaults(&sp->norm, &ns);
    if (ns.map.set && ns.map.len > 0 &&
        (st = tfm__spm_charsmap(ctx, "sentencepiece normalizer_spec", L->d + ns.map.off,
                                ns.map.len, ns.map_at, &sp->norm)) != TFM_OK)
        return st;
    norm_defaults(&sp->denorm, &dns);
    if (dns.present && dns.map.set && dns.map.len > 0) {
        if ((st = tfm__spm_charsmap(ctx, "sentencepiece denormalizer_spec", L->d + dns.map.off,
                                    dns.map.len, dns.map_at, &sp->denorm)) != TFM_OK)
            return st;
        sp->has_denorm = 1;
    }
    if ((st = ptab_build(ctx, t, sp, 0, &sp->pieces)) != TFM_OK) return st;
    return ptab_build(ctx, t, sp, 1, &sp->user);
}

tfm_status tfm__spm_load(tfm_ctx *ctx, const char *path, tfm_tokenizer *t) {
    char *data;
    size_t size;
    ldr L;
    tfm_status st = tfm__read_file(ctx, path, (size_t)-1, "tokenizer", &data, &size);
    if (st != TFM_OK) return st;
    L.ctx = ctx;
    L.path = path;
    L.d = (const uint8_t *)data;
    st = spm_load_data(&L, size, t);
    tfm__free(ctx, data, size + 1);
    return st;
}

tfm_status tfm__spm_from_memory(tfm_ctx *ctx, const void *data, size_t size, const char *name,
                                tfm_tokenizer **out) {
    ldr L;
    tfm_tokenizer *t;
    tfm_status st;
    int i;
    *out = NULL;
    t = (tfm_tokenizer *)tfm__alloc(ctx, sizeof *t);
    if (!t) return tfm__err(ctx, TFM_ERR_NOMEM, "tokenizer: out of memory");
    t->ctx = ctx;
    t->type = TFM_TOKENIZER_SENTENCEPIECE;
    t->space_id = -1;
    for (i = 0; i < TFM__N_SPECIAL; i++) t->special[i] = -1;
    L.ctx = ctx;
    L.path = name;
    L.d = (const uint8_t *)data;
    st = spm_load_data(&L, size, t);
    if (st != TFM_OK) {
        tfm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return TFM_OK;
}

// ---- encode -------------------------------------------------------------------------

/* A piece of the normalized text: bytes [b, e), id (-1: unknown). */
typedef struct seg {
    int32_t b, e, id;
} seg;

/* Byte length of the UTF-8 character led by c, as SentencePiece counts it. */
static size_t one_char_len(unsigned char c) {
    static const unsigned char len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Viterbi over the lattice of s[0, m); segs [m] receives the best path. */
static size_t unigram(const tfm_tokenizer *t, const char *s, size_t m, float *score,
                      int32_t *from, int32_t *nid, seg *segs) {
    const tfm__spm *sp = t->spm;
    const float unk_score = sp->min_score - 10.0f;
    size_t st, k, nseg = 0, at;
    for (k = 0; k <= m; k++) {
        score[k] = 0.0f;
        from[k] = -1;
        nid[k] = -1;
    }
    for (st = 0; st < m;) {
        const float base = score[st];
        size_t mblen = min_size(one_char_len((unsigned char)s[st]), m - st);
        int single = 0;
        uint32_t h = TFM__SPM_FNV0;
        for (k = st; k < m; k++) {
            const tfm__spm_pfx *e;
            int32_t id;
            size_t len = k + 1 - st, tgt = k + 1;
            double sc, cand;
            h = TFM__SPM_FNV(h, s[k]);
            e = tfm__spm_ptab_find(&sp->pieces, t->blob, h, s + st, len);
            if (!e) break;
            id = e->id;
            if (id < 0 || sp->type[id] == TFM__SPM_UNUSED) continue;
            /* user-defined pieces get a bonus so they are always chosen */
            sc = sp->type[id] == TFM__SPM_USER ? (double)((float)len * sp->max_score) - 0.1
                                               : (double)t->scores[id];
            cand = sc + (double)base;
            if (from[tgt] == -1 || cand > (double)score[tgt]) {
                score[tgt] = (float)cand;
                from[tgt] = (int32_t)st;
                nid[tgt] = id;
            }
            if (len == mblen) single = 1;
        }
        if (!single) {
            size_t tgt = st + mblen;
            float cand = unk_score + base;
            if (from[tgt] == -1 || cand > score[tgt]) {
                score[tgt] = cand;
                from[tgt] = (int32_t)st;
                nid[tgt] = -1;
            }
        }
        st += mblen;
    }
    /* backtrack, then reverse */
    for (at = m; at > 0; at = (size_t)from[at]) {
        segs[nseg].b = from[at];
        segs[nseg].e = (int32_t)at;
        segs[nseg].id = nid[at];
        nseg++;
    }
    for (k = 0; k < nseg / 2; k++) {
        seg tmp = segs[k];
        segs[k] = segs[nseg - 1 - k];
        segs[nseg - 1 - k] = tmp;
    }
    return nseg;
}

static int spm_pair(const tfm_tokenizer *t, int32_t a, int32_t b, double *key, int32_t *merged) {
    const tfm__spm *sp = t->spm;
    int32_t id;
    int ty;
    /* unknown characters and user-defined pieces never merge */
    if (a < 0 || b < 0 || sp->type[a] == TFM__SPM_USER || sp->type[b] == TFM__SPM_USER) return 0;
    id = tfm__tok_lookup2(t, tfm__tok_str(t, a), tfm__tok_len(t, a), tfm__tok_str(t, b),
                          tfm__tok_len(t, b));
    if (id < 0) return 0;
    ty = sp->type[id];
    if (ty != TFM__SPM_NORMAL && ty != TFM__SPM_USER && ty != TFM__SPM_UNUSED) return 0;
    *key = -(double)t->scores[id];
    *merged = id;
    return 1;
}

static tfm_status bpe(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s, size_t m,
                      tfm__sym *sym, seg *segs, size_t *nseg) {
    const tfm__spm *sp = t->spm;
    size_t i = 0;
    int32_t ns = 0, k;
    tfm_status st;
    while (i < m) {
        size_t l = tfm__spm_ptab_longest(&sp->user, t->blob, s + i, m - i);
        if (l == 0) l = min_size(one_char_len((unsigned char)s[i]), m - i);
        sym[ns].id = tfm__tok_lookup2(t, "", 0, s + i, l);
        if (sym[ns].id < 0) sym[ns].id = -2;
        sym[ns].start = (int32_t)i;
        sym[ns].end = (int32_t)(i + l);
        sym[ns].prev = ns - 1;
        sym[ns].next = ns + 1;
        ns++;
        i += l;
    }
    sym[ns - 1].next = -1;
    if ((st = tfm__bpe_merge(ctx, t, sym, ns, spm_pair)) != TFM_OK) return st;
    *nseg = 0;
    for (k = 0; k >= 0; k = sym[k].next) {
        segs[*nseg].b = sym[k].start;
        segs[*nseg].e = sym[k].end;
        segs[*nseg].id = sym[k].id >= 0 ? sym[k].id : -1;
        (*nseg)++;
    }
    return TFM_OK;
}

/* The ids of the segments: unknown runs merged, or spelled as bytes. */
static tfm_status emit(tfm_ctx *ctx, const tfm_tokenizer *t, const tfm__spm_ntext *nt,
                       const seg *segs, size_t nseg, int32_t base, tfm__ids *out) {
    const tfm__spm *sp = t->spm;
    size_t k;
    int prev_unk = 0;
    tfm_status st = TFM_OK;
    for (k = 0; k < nseg && st == TFM_OK; k++) {
        int32_t id = segs[k].id >= 0 ? segs[k].id : sp->unk_id;
        int32_t ob = nt->o[segs[k].b] + base, oe = nt->o[segs[k].e] + base;
        int is_unk = sp->type[id] == TFM__SPM_UNKNOWN;
        if (is_unk && sp->byte_fallback) {
            int32_t j;
            for (j = segs[k].b; j < segs[k].e && st == TFM_OK; j++) {
                int32_t bid = sp->byte_id[(unsigned char)nt->s[j]];
                st = tfm__ids_push(ctx, out, bid >= 0 ? bid : sp->unk_id, ob, oe);
            }
        } else if (is_unk && prev_unk) {
            out->d[3 * (out->n - 1) + 2] = oe;
        } else {
            st = tfm__ids_push(ctx, out, id, ob, oe);
        }
        prev_unk = is_unk;
    }
    return st;
}

tfm_status tfm__spm_encode(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s, size_t n,
                           int32_t base, tfm__ids *out) {
    const tfm__spm *sp = t->spm;
    tfm__spm_ntext nt = {NULL, NULL, 0, 0};
    void *work = NULL;
    size_t wbytes = 0, m, nseg = 0, per;
    tfm_status st;
    st = tfm__spm_normalize(ctx, &sp->norm, &sp->user, t->blob, s, n, &nt);
    if (st != TFM_OK || nt.n == 0) goto done;
    m = nt.n;
    /* unigram: score, from, id per position and a segment per byte;
     * BPE: a symbol and a segment per byte */
    per = sp->model_type == TFM__SPM_BPE ? sizeof(tfm__sym) + sizeof(seg)
                                         : 3 * sizeof(int32_t) + sizeof(seg);
    if (!tfm__mul_size(m + 1, per, &wbytes)) {
        st = tfm__err(ctx, TFM_ERR_RANGE, "encode: text too long");
        goto done;
    }
    work = tfm__alloc_nozero(ctx, wbytes);
    if (!work) {
        st = tfm__err(ctx, TFM_ERR_NOMEM, "encode: out of memory (%zu bytes)", wbytes);
        goto done;
    }
    if (sp->model_type == TFM__SPM_BPE) {
        tfm__sym *sym = (tfm__sym *)work;
        seg *segs = (seg *)(sym + m + 1);
        st = bpe(ctx, t, nt.s, m, sym, segs, &nseg);
        if (st == TFM_OK) st = emit(ctx, t, &nt, segs, nseg, base, out);
    } else {
        seg *segs = (seg *)work;
        float *score = (float *)(segs + m + 1);
        int32_t *from = (int32_t *)(score + m + 1), *nid = from + m + 1;
        nseg = unigram(t, nt.s, m, score, from, nid, segs);
        st = emit(ctx, t, &nt, segs, nseg, base, out);
    }
done:
    if (work) tfm__free(ctx, work, wbytes);
    tfm__spm_ntext_free(ctx, &nt);
    return st;
}

// ---- decode -------------------------------------------------------------------------

/* A run of byte pieces: whole UTF-8 characters as they are, each byte of a
 * broken sequence as U+FFFD (raw: the bytes as they are). */
static tfm_status put_bytes(tfm_ctx *ctx, const unsigned char *v, size_t n, int raw,
                            tfm__sbuf *b) {
    size_t i = 0;
    tfm_status st = TFM_OK;
    if (raw) return tfm__sbuf_put(ctx, b, (const char *)v, n);
    while (i < n && st == TFM_OK) {
        uint32_t cp;
        int l = tfm__utf8_decode(v, n, i, &cp);
        if (l == 0) {
            st = tfm__sbuf_put(ctx, b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            st = tfm__sbuf_put(ctx, b, (const char *)v + i, (size_t)l);
            i += (size_t)l;
        }
    }
    return st;
}

tfm_status tfm__spm_decode(tfm_ctx *ctx, const tfm_tokenizer *t, const int32_t *ids, size_t n,
                           uint32_t flags, int at_start, int raw_bytes, tfm__sbuf *out) {
    const tfm__spm *sp = t->spm;
    tfm__sbuf b = {NULL, 0, 0}, run = {NULL, 0, 0};
    size_t i;
    tfm_status st = tfm__sbuf_put(ctx, &b, "", 0);
    for (i = 0; i < n && st == TFM_OK; i++) {
        int32_t id = ids[i];
        int ty = sp->type[id];
        const char *s = tfm__tok_str(t, id);
        size_t l = tfm__tok_len(t, id), k;
        if ((flags & TFM_DECODE_SKIP_SPECIAL) && t->is_special[id]) continue;
        if (ty == TFM__SPM_BYTE) {
            char c = (char)byte_of_piece(s, l);
            st = tfm__sbuf_put(ctx, &run, &c, 1);
            continue;
        }
        if (run.n) {
            st = put_bytes(ctx, (const unsigned char *)run.p, run.n, raw_bytes, &b);
            run.n = 0;
            if (st != TFM_OK) break;
        }
        if (ty == TFM__SPM_CONTROL) continue;
        if (ty == TFM__SPM_UNKNOWN) {
            st = tfm__sbuf_put(ctx, &b, sp->unk_surface, sp->unk_surface_len);
            continue;
        }
        /* the dummy-prefix space of the first piece goes (when the model
         * adds one or strips leading spaces) */
        if (at_start && b.n == 0 && (sp->norm.add_dummy_prefix || sp->norm.remove_extra_ws) &&
            l >= 3 && memcmp(s, "\xE2\x96\x81", 3) == 0) {
            s += 3;
            l -= 3;
        }
        for (k = 0; k < l && st == TFM_OK;) {
            size_t e = k;
            while (e < l && !(e + 3 <= l && memcmp(s + e, "\xE2\x96\x81", 3) == 0)) e++;
            st = tfm__sbuf_put(ctx, &b, s + k, e - k);
            if (st == TFM_OK && e < l) st = tfm__sbuf_put(ctx, &b, " ", 1);
            k = e < l ? e + 3 : e;
        }
    }
    if (st == TFM_OK && run.n)
        st = put_bytes(ctx, (const unsigned char *)run.p, run.n, raw_bytes, &b);
    if (run.p) tfm__free(ctx, run.p, run.cap);
    if (st == TFM_OK && sp->has_denorm && !raw_bytes && b.n) {
        tfm__spm_ntext nt = {NULL, NULL, 0, 0};
        st = tfm__spm_normalize(ctx, &sp->denorm, NULL, t->blob, b.p, b.n, &nt);
        b.n = 0;
        if (st == TFM_OK) st = tfm__sbuf_put(ctx, &b, nt.s, nt.n);
        tfm__spm_ntext_free(ctx, &nt);
    }
    if (st != TFM_OK) {
        if (b.p) tfm__free(ctx, b.p, b.cap);
        return st;
    }
    *out = b;
    return TFM_OK;
}
