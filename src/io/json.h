/*
 * JSON: a strict parser into a read-only DOM (internal API).
 *
 * tfm__json_parse reads a whole UTF-8 text (need not be NUL-terminated) and
 * builds a tree of tfm__json values in one arena allocated through the ctx's
 * allocator; tfm__json_free releases it all at once. The tree never changes
 * after parsing, so any number of threads may read it.
 *
 *  - Objects keep their members in document order; tfm__json_get looks a key
 *    up (hashed for objects with more than 8 members). With duplicate keys
 *    the LAST one wins (as Python's json), while iteration shows them all.
 *  - Arrays are read by index (tfm__json_at).
 *  - Numbers are kept as a double; `is_int` is set, with the exact value in
 *    `i`, when the number is integral and fits int64 (a plain integer token
 *    such as 9007199254740993 is converted exactly, not through the double).
 *  - Strings are decoded to UTF-8 (escapes, \uXXXX with surrogate pairs),
 *    NUL-terminated, with their byte length (they may contain NUL from
 *    \u0000). A lone surrogate escape decodes to U+FFFD. Raw bytes must be
 *    valid UTF-8 (no overlongs, no encoded surrogates); control characters
 *    below 0x20 must be escaped.
 *  - Extensions: a leading UTF-8 byte-order mark is skipped; NaN, Infinity
 *    and -Infinity are accepted as numbers (Python's json writes them).
 *  - Limits (tfm__json_limits): nesting depth (default 256), input size
 *    (default 1 GiB) and memory used for the tree (default 4 GiB); going
 *    past one is TFM_ERR_RANGE.
 *  - Malformed text is TFM_ERR_FORMAT with a message that names the source,
 *    the line, column and byte offset:
 *      "json: config.json: line 3, column 7 (byte 41): expected ':' after key"
 *
 * Robust to any input: it reads nothing outside [text, text + len) and
 * recurses at most max_depth levels.
 */
#ifndef TFM_IO_JSON_H
#define TFM_IO_JSON_H

#include "../core/internal.h"

typedef enum tfm__json_type {
    TFM__JSON_NULL = 0,
    TFM__JSON_BOOL = 1,
    TFM__JSON_NUMBER = 2,
    TFM__JSON_STRING = 3,
    TFM__JSON_ARRAY = 4,
    TFM__JSON_OBJECT = 5
} tfm__json_type;

typedef struct tfm__json tfm__json;

/* An object member's key (decoded, NUL-terminated). */
typedef struct tfm__json_key {
    const char *s;
    size_t len;
} tfm__json_key;

struct tfm__json {
    uint8_t type;               /* tfm__json_type                          */
    uint8_t is_int;             /* NUMBER: integral and fits int64         */
    uint8_t boolean;            /* BOOL: 0 or 1                            */
    size_t n;                   /* STRING: bytes; ARRAY/OBJECT: items      */
    double num;                 /* NUMBER                                  */
    int64_t i;                  /* NUMBER with is_int                      */
    const char *s;              /* STRING: decoded, NUL-terminated         */
    const tfm__json *items;     /* ARRAY/OBJECT: n values                  */
    const tfm__json_key *keys;  /* OBJECT: n keys                          */
    const uint32_t *hash;       /* OBJECT with n > 8: index + 1, 0 empty   */
    uint32_t hmask;             /* hash table size - 1                     */
};

typedef struct tfm__json_limits {
    size_t max_depth;  /* nesting of arrays/objects (default 256)          */
    size_t max_size;   /* bytes of input (default 1 GiB)                   */
    size_t max_memory; /* bytes for the tree (default 4 GiB)              */
} tfm__json_limits;

typedef struct tfm__json_doc tfm__json_doc;

tfm__json_limits tfm__json_limits_default(void);

/* Parses text[0, len) into a document. `what` names the source in error
 * messages (a file name; NULL gives "input"). limits may be NULL (defaults).
 * *out is NULL on failure. Errors: TFM_ERR_INVALID_ARG (NULL out, or NULL
 * text with len > 0), TFM_ERR_FORMAT, TFM_ERR_RANGE (a limit), TFM_ERR_NOMEM. */
tfm_status tfm__json_parse(tfm_ctx *ctx, const char *text, size_t len,
                           const char *what, const tfm__json_limits *limits,
                           tfm__json_doc **out);
/* Reads a whole file and parses it (what = the path). TFM_ERR_IO if the file
 * cannot be read. */
tfm_status tfm__json_parse_file(tfm_ctx *ctx, const char *path,
                                const tfm__json_limits *limits,
                                tfm__json_doc **out);
/* Frees the document and every value in it. NULL is a no-op. */
void tfm__json_free(tfm__json_doc *doc);
/* The root value (never NULL for a parsed document; NULL for NULL). */
const tfm__json *tfm__json_root(const tfm__json_doc *doc);

/* ---- navigation (all accept NULL and return NULL/0 for wrong types) ----*/

/* The member `key` of an object (last one with that key), or NULL. */
const tfm__json *tfm__json_get(const tfm__json *obj, const char *key);
const tfm__json *tfm__json_getn(const tfm__json *obj, const char *key,
                                size_t key_len);
/* Item i of an array, or value i of an object (document order); NULL past
 * the end. */
const tfm__json *tfm__json_at(const tfm__json *v, size_t i);
/* Key i of an object (NULL past the end); *len gets its length if len. */
const char *tfm__json_key_at(const tfm__json *obj, size_t i, size_t *len);
/* Items of an array or members of an object; 0 for other values. */
size_t tfm__json_len(const tfm__json *v);
/* The string of a STRING value, or NULL. */
const char *tfm__json_str(const tfm__json *v);
/* "null", "bool", "number", "string", "array", "object" ("missing" for
 * NULL). */
const char *tfm__json_type_name(const tfm__json *v);
int tfm__json_is(const tfm__json *v, tfm__json_type type);

/* ---- config helpers ---------------------------------------------------
 * Read a member of `obj` by key. A missing member or a JSON null gives the
 * default (get) or TFM_ERR_NOT_FOUND (req). A member of the wrong type is
 * TFM_ERR_FORMAT with a message naming `what` (the file; may be NULL) and
 * the key: "config.json: 'hidden_size': expected an integer, got a string".
 * Integers must be integral numbers that fit int64 (3.0 is accepted, 3.5
 * is not); floats accept any number; strings are borrowed from the
 * document. obj NULL or not an object counts as "missing". */
tfm_status tfm__json_get_int(tfm_ctx *ctx, const tfm__json *obj,
                             const char *what, const char *key, int64_t def,
                             int64_t *out);
tfm_status tfm__json_get_float(tfm_ctx *ctx, const tfm__json *obj,
                               const char *what, const char *key, double def,
                               double *out);
tfm_status tfm__json_get_bool(tfm_ctx *ctx, const tfm__json *obj,
                              const char *what, const char *key, int def,
                              int *out);
tfm_status tfm__json_get_string(tfm_ctx *ctx, const tfm__json *obj,
                                const char *what, const char *key,
                                const char *def, const char **out);
tfm_status tfm__json_req_int(tfm_ctx *ctx, const tfm__json *obj,
                             const char *what, const char *key, int64_t *out);
tfm_status tfm__json_req_float(tfm_ctx *ctx, const tfm__json *obj,
                               const char *what, const char *key, double *out);
tfm_status tfm__json_req_bool(tfm_ctx *ctx, const tfm__json *obj,
                              const char *what, const char *key, int *out);
tfm_status tfm__json_req_string(tfm_ctx *ctx, const tfm__json *obj,
                                const char *what, const char *key,
                                const char **out);

#endif /* TFM_IO_JSON_H */
