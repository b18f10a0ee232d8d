/*
 * SentencePiece models (spm.c, spm_norm.c): internal declarations.
 *
 * A .model / .spm file is a serialized ModelProto: the pieces (string,
 * score, type), the trainer spec (model type, special pieces, byte
 * fallback) and the normalizer spec (precompiled character map, whitespace
 * rules). The tokenizer keeps the pieces in its usual vocabulary blob and
 * t->scores; everything else SentencePiece needs lives in a tfm__spm.
 *
 * Legend: V = vocabulary size, n = bytes of the raw text, m = bytes of the
 * normalized text.
 */
#ifndef TFM_TEXT_SPM_H
#define TFM_TEXT_SPM_H

#include "tokenizer.h"

/* ModelProto.SentencePiece.Type */
enum {
    TFM__SPM_NORMAL = 1,
    TFM__SPM_UNKNOWN = 2,
    TFM__SPM_CONTROL = 3,
    TFM__SPM_USER = 4,   /* USER_DEFINED: matched greedily, never split */
    TFM__SPM_UNUSED = 5,
    TFM__SPM_BYTE = 6    /* <0xNN> byte-fallback pieces                  */
};

/* TrainerSpec.ModelType */
enum { TFM__SPM_UNIGRAM = 1, TFM__SPM_BPE = 2, TFM__SPM_WORD = 3, TFM__SPM_CHAR = 4 };

/* Every prefix of a set of pieces, in an open-addressing table keyed by an
 * FNV-1a hash that can be extended one byte at a time: walking a text from
 * a position finds all pieces starting there and stops at the first byte
 * no piece continues with (what a trie gives, without building one). */
typedef struct tfm__spm_pfx {
    uint32_t hash;   /* FNV-1a of the prefix                             */
    uint32_t off;    /* a piece holding it: byte offset in t->blob        */
    uint32_t len;    /* prefix length, 0 for an empty slot                */
    int32_t id;      /* the piece when the prefix is a whole piece, else -1 */
} tfm__spm_pfx;

typedef struct tfm__spm_ptab {
    tfm__spm_pfx *e; /* [mask + 1]                                       */
    uint32_t mask;
    uint32_t count;
} tfm__spm_ptab;

/* A normalizer (NormalizerSpec): the precompiled character map, a
 * double-array trie (darts-clone units) over raw UTF-8 whose values are
 * offsets of NUL-terminated replacements, and the whitespace rules. */
typedef struct tfm__spm_norm {
    uint32_t *units;       /* [n_units] trie units, NULL: identity       */
    size_t n_units;
    char *strs;            /* [n_strs] replacements, each NUL-terminated  */
    size_t n_strs;
    int add_dummy_prefix;  /* a space before the text (default 1)        */
    int remove_extra_ws;   /* strip and squeeze spaces (default 1)       */
    int escape_ws;         /* ' ' -> U+2581 (default 1)                  */
} tfm__spm_norm;

typedef struct tfm__spm {
    int model_type;        /* TFM__SPM_UNIGRAM or _BPE                    */
    int byte_fallback;
    int32_t unk_id;        /* the UNKNOWN piece                           */
    uint8_t *type;         /* [V] piece types                             */
    int32_t byte_id[256];  /* <0xNN> pieces, -1 absent                   */
    float min_score;       /* of NORMAL pieces (unigram: unknown penalty) */
    float max_score;       /* of NORMAL pieces (user-defined bonus)       */
    tfm__spm_norm norm;    /* normalizer_spec                             */
    tfm__spm_norm denorm;  /* denormalizer_spec (used when it has a map)  */
    int has_denorm;
    char *unk_surface;     /* what decoding shows for unk (" \u2047 ")   */
    size_t unk_surface_len;
    tfm__spm_ptab pieces;  /* NORMAL, USER_DEFINED and UNUSED pieces     */
    tfm__spm_ptab user;    /* USER_DEFINED pieces only (count 0: none)    */
    size_t n_type;         /* V, the size of type[]                       */
} tfm__spm;

/* ---- spm_norm.c ------------------------------------------------------------*/

/* Normalized text with, for each byte, the raw byte offset it came from;
 * o[m] is the end of the consumed raw text. */
typedef struct tfm__spm_ntext {
    char *s;               /* [cap] normalized bytes (m = n)              */
    int32_t *o;            /* [cap + 1] raw offsets                       */
    size_t n, cap;
} tfm__spm_ntext;

void tfm__spm_ntext_free(tfm_ctx *ctx, tfm__spm_ntext *x);

/* Splits a precompiled_charsmap blob (u32 trie size, trie units, strings)
 * into nm; `at` is the blob's byte offset in the file (for messages). */
tfm_status tfm__spm_charsmap(tfm_ctx *ctx, const char *what, const uint8_t *blob,
                             size_t size, size_t at, tfm__spm_norm *nm);
void tfm__spm_norm_free(tfm_ctx *ctx, tfm__spm_norm *nm);

/* One byte more of a prefix hash (start from TFM__SPM_FNV0). */
#define TFM__SPM_FNV0 2166136261u
#define TFM__SPM_FNV(h, c) (((h) ^ (uint32_t)(unsigned char)(c)) * 16777619u)
/* The entry for the prefix s[0, len) whose hash is h, or NULL. */
const tfm__spm_pfx *tfm__spm_ptab_find(const tfm__spm_ptab *tab, const char *blob, uint32_t h,
                                       const char *s, size_t len);
/* Longest prefix of s[0, n) that is a whole entry of tab (0: none). */
size_t tfm__spm_ptab_longest(const tfm__spm_ptab *tab, const char *blob, const char *s,
                             size_t n);

/* Normalizes s[0, n) (valid UTF-8) as SentencePiece's Normalizer does, with
 * user-defined pieces (user, may be NULL or empty) kept verbatim. */
tfm_status tfm__spm_normalize(tfm_ctx *ctx, const tfm__spm_norm *nm,
                              const tfm__spm_ptab *user, const char *blob,
                              const char *s, size_t n, tfm__spm_ntext *out);

#endif /* TFM_TEXT_SPM_H */
