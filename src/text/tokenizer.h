/*
 * Tokenizer internals shared by the formats (tokenizer.c, llama2c.c,
 * wordpiece.c, bpe.c). The struct is filled once by a loader and only read
 * afterwards, so a tokenizer may be shared by threads.
 *
 * Legend: V = vocabulary size, n = symbols of one text.
 */
#ifndef TFM_TEXT_TOKENIZER_H
#define TFM_TEXT_TOKENIZER_H

#include "unicode.h"
#include "../io/file.h"

#define TFM__N_SPECIAL 7
#define TFM__MAX_ADDED 16

struct tfm_tokenizer {
    tfm_ctx *ctx;            /* allocator of everything below               */
    int type;                /* tfm_tokenizer_type                          */
    int32_t n_vocab;         /* V                                           */
    int32_t max_length;      /* model_max_length, 0 unknown                 */
    int32_t special[TFM__N_SPECIAL]; /* by tfm_special_token, -1 absent     */

    /* vocabulary strings: token i is blob[off[i], off[i+1] - 1), NUL-ended */
    char *blob;
    size_t blob_size;
    uint32_t *off;           /* [V + 1]                                     */
    size_t max_token_bytes;  /* longest vocabulary string                   */
    int32_t *hash;           /* [hmask + 1] id + 1, 0 empty (open addressing) */
    uint32_t hmask;
    uint8_t *is_special;     /* [V] 1 for ids skipped by SKIP_SPECIAL       */

    /* strings recognized in raw text as special ids, longest first */
    int32_t added[TFM__MAX_ADDED];
    int n_added;

    /* llama2.c */
    float *scores;           /* [V]                                         */
    int32_t space_id;        /* the " " piece, -1 when absent               */

    /* WordPiece */
    int lower, strip;
    int32_t max_word_chars;  /* 100                                         */

    /* byte-level BPE */
    uint64_t *merge_key;     /* [mmask + 1] (a << 32 | b) + 1, 0 empty      */
    int32_t *merge_rank;     /* [mmask + 1]                                 */
    int32_t *merge_id;       /* [mmask + 1]                                 */
    uint32_t mmask;
    int32_t n_merges;
    int32_t byte_id[256];    /* id of each single byte's token              */
    char *bytes;             /* decoded bytes of every token                */
    size_t bytes_size;
    uint32_t *bytes_off;     /* [V + 1]                                     */

    /* SentencePiece (spm.c): piece types, normalizer, prefix tables */
    struct tfm__spm *spm;
};

/* ---- growable id list ----------------------------------------------------*/
typedef struct tfm__ids {
    int32_t *d;              /* 3 per entry: id, byte start, byte end       */
    size_t n, cap;
} tfm__ids;

tfm_status tfm__ids_push(tfm_ctx *ctx, tfm__ids *v, int32_t id, int32_t start,
                         int32_t end);

/* ---- growable text (decoders) --------------------------------------------*/
typedef struct tfm__sbuf {
    char *p;                 /* NUL-terminated once anything was put       */
    size_t n, cap;           /* bytes used (NUL not counted), allocated     */
} tfm__sbuf;

/* Appends s[0, n) (n may be 0: makes an empty string); errors name decode. */
tfm_status tfm__sbuf_put(tfm_ctx *ctx, tfm__sbuf *b, const char *s, size_t n);

/* ---- vocabulary ----------------------------------------------------------*/
/* Builds off[] and the hash from `blob` holding V NUL-terminated strings
 * (t->blob, blob_size, n_vocab set). Later duplicates win the lookup. */
tfm_status tfm__tok_index(tfm_ctx *ctx, tfm_tokenizer *t, const char *what);
/* Id of pre[0,npre) + s[0,n), or -1. */
int32_t tfm__tok_lookup2(const tfm_tokenizer *t, const char *pre, size_t npre,
                         const char *s, size_t n);
static inline const char *tfm__tok_str(const tfm_tokenizer *t, int32_t id) {
    return t->blob + t->off[id];
}
static inline size_t tfm__tok_len(const tfm_tokenizer *t, int32_t id) {
    return t->off[id + 1] - t->off[id] - 1;
}
/* Registers a special string that is matched in raw text. */
void tfm__tok_add_special(tfm_tokenizer *t, int32_t id);

/* ---- BPE merge engine (merge.c) ------------------------------------------
 * Symbols sym[0, n) in text order; repeatedly merges the adjacent pair with
 * the smallest key (ties: the leftmost) as `pair` reports it (return 0 when
 * the pair cannot merge). A binary heap with lazy invalidation keeps it
 * O(n log n) for any input. On return the live symbols are linked by next
 * from index 0 (-1 ends). */
typedef struct tfm__sym {
    int32_t id, prev, next;
    int32_t start, end;      /* byte range in the text                      */
} tfm__sym;
typedef int (*tfm__pair_fn)(const tfm_tokenizer *t, int32_t a, int32_t b,
                            double *key, int32_t *merged);
tfm_status tfm__bpe_merge(tfm_ctx *ctx, const tfm_tokenizer *t, tfm__sym *sym,
                          int32_t n, tfm__pair_fn pair);

/* ---- formats -------------------------------------------------------------*/
tfm_status tfm__tokbin_load(tfm_ctx *ctx, const char *path, tfm_tokenizer *t);
tfm_status tfm__tokbin_encode(tfm_ctx *ctx, const tfm_tokenizer *t,
                               const char *s, size_t n, tfm__ids *out);
tfm_status tfm__wordpiece_load(tfm_ctx *ctx, const char *vocab_path,
                               const char *config_path,
                               const tfm_tokenizer_params *p, tfm_tokenizer *t);
/* Encodes the chunk s[0, n) (no special strings inside); offsets + base. */
tfm_status tfm__wordpiece_encode(tfm_ctx *ctx, const tfm_tokenizer *t,
                                 const char *s, size_t n, int32_t base,
                                 tfm__ids *out);
tfm_status tfm__bpe_load(tfm_ctx *ctx, const char *vocab_path,
                         const char *merges_path, const char *config_path,
                         tfm_tokenizer *t);
tfm_status tfm__bpe_encode(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s,
                           size_t n, int32_t base, tfm__ids *out);

/* SentencePiece (spm.c). Decode: ids valid; at_start: nothing precedes
 * them; raw_bytes: byte pieces as they are (streaming) rather than UTF-8
 * checked; the text goes into *out (empty on entry; left empty on failure). */
tfm_status tfm__spm_load(tfm_ctx *ctx, const char *path, tfm_tokenizer *t);
tfm_status tfm__spm_from_memory(tfm_ctx *ctx, const void *data, size_t size,
                                const char *name, tfm_tokenizer **out);
tfm_status tfm__spm_encode(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s,
                           size_t n, int32_t base, tfm__ids *out);
tfm_status tfm__spm_decode(tfm_ctx *ctx, const tfm_tokenizer *t,
                           const int32_t *ids, size_t n, uint32_t flags,
                           int at_start, int raw_bytes, tfm__sbuf *out);
void tfm__spm_free(tfm_ctx *ctx, struct tfm__spm *sp);

#endif /* TFM_TEXT_TOKENIZER_H */
