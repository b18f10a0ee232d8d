/*
 * Safetensors reader: one file, a host buffer, or the shards of an index,
 * seen as one immutable set of tensors. See the "Safetensors" section of
 * include/transformer.h for the contract.
 *
 * File layout: [u64 little-endian header length N][N bytes of JSON][data].
 * Each tensor's data_offsets [begin, end) are relative to the data section.
 * Everything is checked at open; lookups afterwards only read.
 */
#define _POSIX_C_SOURCE 200809L
#include "../core/internal.h"
#include "json.h"
#include "file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#  define TFM__HAVE_STAT 1
#  include <sys/stat.h>
#else
#  define TFM__HAVE_STAT 0
#endif

#define HEADER_MAX 100000000u /* bytes of JSON header accepted */
#define INDEX_MAX (64u << 20) /* bytes of index JSON accepted */

// ---- types --------------------------------------------------------------------------

typedef struct st_tensor {
    const char *name; // borrowed from the file's header document
    size_t name_len;
    const char *dtype_name;
    int32_t dtype;    // tfm_dtype or -1
    uint32_t esize;   // bytes per element
    int32_t ndim;
    int64_t shape[TFM_SAFETENSORS_MAX_DIMS];
    uint64_t begin, end; // within the file's data section
    int32_t file;
} st_tensor;

typedef struct st_file {
    char *path;                 // name used in messages (owned)
    const unsigned char *base;  // the whole file image
    size_t size;
    const unsigned char *data;  // data section: base + 8 + header length
    size_t data_size;
    void *map;                  // the image from tfm__file_map, or NULL
    size_t map_size;
    int mapped;                 // map: 1 mapped, 0 read into an allocation
    void *buf;                  // the aligned data copy to free, or NULL
    size_t buf_size;
    tfm__json_doc *header;
    const tfm__json *meta;      // "__metadata__" or NULL
} st_file;

struct tfm_safetensors {
    tfm_ctx *ctx;
    st_file *files;
    int32_t nfiles, capfiles;
    st_tensor *tensors;
    int64_t n, cap;
    uint32_t *hash; // index + 1, 0 empty
    size_t hsize;   // power of two
};

typedef struct dtype_entry {
    const char *name;
    uint32_t size;
    int32_t dtype;
} dtype_entry;

static const dtype_entry k_dtypes[] = {
    {"F32", 4, TFM_F32},  {"F16", 2, TFM_F16},   {"BF16", 2, TFM_BF16},
    {"I8", 1, TFM_I8},    {"U8", 1, TFM_U8},     {"BOOL", 1, TFM_U8},
    {"I32", 4, TFM_I32},  {"I64", 8, TFM_I64},   {"F64", 8, TFM_F64},
    {"I16", 2, -1},       {"U16", 2, -1},        {"U32", 4, -1},
    {"U64", 8, -1},       {"F8_E4M3", 1, -1},    {"F8_E5M2", 1, -1},
    {"F8_E8M0", 1, -1},   {"C64", 8, -1},
};

static const dtype_entry *find_dtype(const char *s) {
    size_t i;
    for (i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (strcmp(k_dtypes[i].name, s) == 0) return &k_dtypes[i];
    return NULL;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

// ---- set lifetime -----------------------------------------------------------------

static void file_release(tfm_ctx *ctx, st_file *f) {
    tfm__file_unmap(ctx, f->map, f->map_size, f->mapped);
    tfm__free(ctx, f->buf, f->buf_size);
    tfm__json_free(f->header);
    if (f->path) tfm__free(ctx, f->path, strlen(f->path) + 1);
    memset(f, 0, sizeof *f);
}

void tfm_safetensors_close(tfm_safetensors *st) {
    tfm_ctx *ctx;
    int32_t i;
    if (!st) return;
    ctx = st->ctx;
    for (i = 0; i < st->nfiles; i++) file_release(ctx, &st->files[i]);
    tfm__free(ctx, st->files, (size_t)st->capfiles * sizeof *st->files);
    tfm__free(ctx, st->tensors, (size_t)st->cap * sizeof *st->tensors);
    tfm__free(ctx, st->hash, st->hsize * sizeof *st->hash);
    tfm__free(ctx, st, sizeof *st);
}

static tfm_status set_new(tfm_ctx *ctx, tfm_safetensors **out) {
    tfm_safetensors *st;
    if (!host_is_little_endian())
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                        "safetensors: big-endian hosts are not supported");
    st = (tfm_safetensors *)tfm__alloc(ctx, sizeof *st);
    if (!st) return tfm__err(ctx, TFM_ERR_NOMEM, "safetensors: out of memory");
    st->ctx = ctx;
    *out = st;
    return TFM_OK;
}

// Appends an empty file record named `path`; returns its index or -1.
static int32_t add_file(tfm_safetensors *st, const char *path) {
    st_file *f;
    if (st->nfiles == st->capfiles) {
        int32_t ncap = st->capfiles ? st->capfiles * 2 : 4;
        st_file *nf = (st_file *)tfm__realloc(st->ctx, st->files,
                                              (size_t)st->capfiles * sizeof *nf,
                                              (size_t)ncap * sizeof *nf);
        if (!nf) return -1;
        memset(nf + st->capfiles, 0, (size_t)(ncap - st->capfiles) * sizeof *nf);
        st->files = nf;
        st->capfiles = ncap;
    }
    f = &st->files[st->nfiles];
    f->path = tfm__strdup(st->ctx, path);
    if (!f->path) return -1;
    return st->nfiles++;
}

static st_tensor *add_tensor(tfm_safetensors *st) {
    if (st->n == st->cap) {
        int64_t ncap = st->cap ? st->cap * 2 : 64;
        size_t bytes;
        st_tensor *nt;
        if (!tfm__mul_size((size_t)ncap, sizeof *nt, &bytes)) return NULL;
        nt = (st_tensor *)tfm__realloc(st->ctx, st->tensors,
                                       (size_t)st->cap * sizeof *nt, bytes);
        if (!nt) return NULL;
        st->tensors = nt;
        st->cap = ncap;
    }
    memset(&st->tensors[st->n], 0, sizeof st->tensors[0]);
    return &st->tensors[st->n++];
}

// ---- header validation ---------------------------------------------------------------

// Shape as "[2, 3]" for messages.
static const char *shape_str(const st_tensor *t, char *buf, size_t size) {
    size_t n = 0;
    int32_t d;
    n += (size_t)snprintf(buf, size, "[");
    for (d = 0; d < t->ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? ", " : "",
                              (long long)t->shape[d]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

typedef struct range {
    uint64_t begin, end;
    int64_t idx;
} range;

static int range_cmp(const void *a, const void *b) {
    const range *x = (const range *)a, *y = (const range *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

// Reads one tensor entry `v` named `name` of file `fi` into a new record.
static tfm_status parse_entry(tfm_safetensors *st, int32_t fi, const char *name,
                              size_t name_len, const tfm__json *v) {
    tfm_ctx *ctx = st->ctx;
    const st_file *f = &st->files[fi];
    const char *fp = f->path;
    const tfm__json *dt, *shape, *offs;
    const dtype_entry *de;
    st_tensor *t;
    uint64_t numel = 1, bytes, b, e;
    size_t d;
    char sbuf[160];

    if (name_len == 0)
        return tfm__err(ctx, TFM_ERR_FORMAT, "safetensors: %s: empty tensor name", fp);
    if (strlen(name) != name_len)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor name with a NUL character ('%s...')", fp,
                        name);
    if (!tfm__json_is(v, TFM__JSON_OBJECT))
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': entry is %s, not an object", fp,
                        name, tfm__json_type_name(v));
    dt = tfm__json_get(v, "dtype");
    if (!dt)
        return tfm__err(ctx, TFM_ERR_FORMAT, "safetensors: %s: tensor '%s': missing dtype",
                        fp, name);
    if (!tfm__json_is(dt, TFM__JSON_STRING))
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': dtype is %s, not a string", fp, name,
                        tfm__json_type_name(dt));
    de = find_dtype(dt->s);
    if (!de)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': invalid dtype '%.32s'", fp, name,
                        dt->s);
    shape = tfm__json_get(v, "shape");
    if (!shape)
        return tfm__err(ctx, TFM_ERR_FORMAT, "safetensors: %s: tensor '%s': missing shape",
                        fp, name);
    if (!tfm__json_is(shape, TFM__JSON_ARRAY))
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': shape is %s, not an array", fp, name,
                        tfm__json_type_name(shape));
    if (shape->n > TFM_SAFETENSORS_MAX_DIMS)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': absurd shape: %zu dimensions "
                        "(at most %d)", fp, name, shape->n, TFM_SAFETENSORS_MAX_DIMS);
    offs = tfm__json_get(v, "data_offsets");
    if (!offs)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': missing data_offsets", fp, name);
    if (!tfm__json_is(offs, TFM__JSON_ARRAY) || offs->n != 2 ||
        !tfm__json_is(&offs->items[0], TFM__JSON_NUMBER) || !offs->items[0].is_int ||
        !tfm__json_is(&offs->items[1], TFM__JSON_NUMBER) || !offs->items[1].is_int ||
        offs->items[0].i < 0 || offs->items[1].i < 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': data_offsets must be two "
                        "non-negative integers [begin, end]", fp, name);

    t = add_tensor(st);
    if (!t) return tfm__err(ctx, TFM_ERR_NOMEM, "safetensors: %s: out of memory", fp);
    t->name = name;
    t->name_len = name_len;
    t->dtype_name = de->name;
    t->dtype = de->dtype;
    t->esize = de->size;
    t->file = fi;
    t->ndim = (int32_t)shape->n;
    for (d = 0; d < shape->n; d++) {
        const tfm__json *dim = &shape->items[d];
        if (!tfm__json_is(dim, TFM__JSON_NUMBER) || !dim->is_int || dim->i < 0)
            return tfm__err(ctx, TFM_ERR_FORMAT,
                            "safetensors: %s: tensor '%s': shape dimension %zu is not a "
                            "non-negative integer", fp, name, d);
        t->shape[d] = dim->i;
        if (numel != 0 && (uint64_t)dim->i > UINT64_MAX / numel) {
            return tfm__err(ctx, TFM_ERR_FORMAT,
                            "safetensors: %s: tensor '%s': absurd shape %s: element count "
                            "overflows", fp, name, shape_str(t, sbuf, sizeof sbuf));
        }
        numel *= (uint64_t)dim->i;
    }
    if (numel > INT64_MAX / 8 || numel > UINT64_MAX / de->size)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': absurd shape %s: byte count "
                        "overflows", fp, name, shape_str(t, sbuf, sizeof sbuf));
    bytes = numel * de->size;
    b = (uint64_t)offs->items[0].i;
    e = (uint64_t)offs->items[1].i;
    if (b > e)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': data_offsets [%llu, %llu] end before "
                        "they begin", fp, name, (unsigned long long)b, (unsigned long long)e);
    if (e > f->data_size)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': data offset %llu past end of data "
                        "(%zu bytes)", fp, name, (unsigned long long)e, f->data_size);
    if (e - b != bytes)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': %llu bytes of data, but shape %s of "
                        "%s needs %llu", fp, name, (unsigned long long)(e - b),
                        shape_str(t, sbuf, sizeof sbuf), de->name,
                        (unsigned long long)bytes);
    t->begin = b;
    t->end = e;
    return TFM_OK;
}

// Checks that no two non-empty tensors of file fi (records [first, st->n))
// share a byte.
static tfm_status check_overlaps(tfm_safetensors *st, int32_t fi, int64_t first) {
    int64_t n = st->n - first, i, m = 0;
    range *r;
    tfm_status rc = TFM_OK;
    if (n < 2) return TFM_OK;
    r = (range *)tfm__alloc_nozero(st->ctx, (size_t)n * sizeof *r);
    if (!r) return tfm__err(st->ctx, TFM_ERR_NOMEM, "safetensors: out of memory");
    for (i = 0; i < n; i++) {
        const st_tensor *t = &st->tensors[first + i];
        if (t->end == t->begin) continue;
        r[m].begin = t->begin;
        r[m].end = t->end;
        r[m].idx = first + i;
        m++;
    }
    qsort(r, (size_t)m, sizeof *r, range_cmp);
    for (i = 1; i < m; i++) {
        if (r[i].begin < r[i - 1].end) {
            const st_tensor *a = &st->tensors[r[i - 1].idx], *b = &st->tensors[r[i].idx];
            rc = tfm__err(st->ctx, TFM_ERR_FORMAT,
                          "safetensors: %s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) "
                          "overlap", st->files[fi].path, a->name,
                          (unsigned long long)a->begin, (unsigned long long)a->end, b->name,
                          (unsigned long long)b->begin, (unsigned long long)b->end);
            break;
        }
    }
    tfm__free(st->ctx, r, (size_t)n * sizeof *r);
    return rc;
}

// Parses and validates the header of file fi, whose image is already set.
static tfm_status parse_header(tfm_safetensors *st, int32_t fi) {
    tfm_ctx *ctx = st->ctx;
    st_file *f = &st->files[fi];
    const char *fp = f->path;
    uint64_t hlen = 0;
    const tfm__json *root;
    tfm__json_limits lim = tfm__json_limits_default();
    int64_t first = st->n;
    size_t i;
    int k;
    tfm_status rc;

    if (f->size < 8)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: file is %zu bytes, too short for the 8-byte "
                        "header length", fp, f->size);
    for (k = 7; k >= 0; k--) hlen = hlen << 8 | f->base[k];
    if (hlen > f->size - 8)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: header length %llu past the end of the file "
                        "(%zu bytes)", fp, (unsigned long long)hlen, f->size);
    if (hlen > HEADER_MAX)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: header length %llu past the limit of %u bytes",
                        fp, (unsigned long long)hlen, HEADER_MAX);
    f->data = f->base + 8 + hlen;
    f->data_size = f->size - 8 - (size_t)hlen;

    lim.max_depth = 16;
    lim.max_size = HEADER_MAX;
    rc = tfm__json_parse(ctx, (const char *)f->base + 8, (size_t)hlen, fp, &lim,
                         &f->header);
    if (rc != TFM_OK) {
        char msg[TFM__ERRMSG_SIZE];
        const char *m = tfm_ctx_last_error(ctx);
        size_t skip = strlen("json: ") + strlen(fp) + 2; // "json: <path>: "
        if (ctx && strlen(m) > skip && strncmp(m, "json: ", 6) == 0) m += skip;
        snprintf(msg, sizeof msg, "%s", m);
        if (rc == TFM_ERR_NOMEM) return tfm__err(ctx, rc, "safetensors: %s: out of memory", fp);
        return tfm__err(ctx, TFM_ERR_FORMAT, "safetensors: %s: header is not valid JSON: %s",
                        fp, msg);
    }
    root = tfm__json_root(f->header);
    if (!tfm__json_is(root, TFM__JSON_OBJECT))
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: header is a JSON %s, not an object", fp,
                        tfm__json_type_name(root));
    for (i = 0; i < root->n; i++) {
        size_t klen;
        const char *key = tfm__json_key_at(root, i, &klen);
        const tfm__json *v = &root->items[i];
        if (klen == 12 && memcmp(key, "__metadata__", 12) == 0) {
            size_t j;
            if (f->meta)
                return tfm__err(ctx, TFM_ERR_FORMAT,
                                "safetensors: %s: duplicate __metadata__", fp);
            if (!tfm__json_is(v, TFM__JSON_OBJECT))
                return tfm__err(ctx, TFM_ERR_FORMAT,
                                "safetensors: %s: __metadata__ is %s, not an object", fp,
                                tfm__json_type_name(v));
            for (j = 0; j < v->n; j++)
                if (!tfm__json_is(&v->items[j], TFM__JSON_STRING))
                    return tfm__err(ctx, TFM_ERR_FORMAT,
                                    "safetensors: %s: __metadata__ '%s' is %s, not a string",
                                    fp, v->keys[j].s, tfm__json_type_name(&v->items[j]));
            f->meta = v;
            continue;
        }
        rc = parse_entry(st, fi, key, klen, v);
        if (rc != TFM_OK) return rc;
    }
    return check_overlaps(st, fi, first);
}

// Builds the name hash over all tensors; duplicates are an error.
static tfm_status build_index(tfm_safetensors *st) {
    size_t size = 16, bytes;
    int64_t i;
    if ((uint64_t)st->n > 0x3fffffffu)
        return tfm__err(st->ctx, TFM_ERR_FORMAT, "safetensors: too many tensors (%lld)",
                        (long long)st->n);
    while (size < (size_t)st->n * 2) size *= 2;
    bytes = size * sizeof *st->hash;
    st->hash = (uint32_t *)tfm__alloc(st->ctx, bytes);
    if (!st->hash) return tfm__err(st->ctx, TFM_ERR_NOMEM, "safetensors: out of memory");
    st->hsize = size;
    for (i = 0; i < st->n; i++) {
        const st_tensor *t = &st->tensors[i];
        size_t h = tfm__hash_bytes(t->name, t->name_len) & (size - 1);
        for (;;) {
            uint32_t e = st->hash[h];
            if (e == 0) {
                st->hash[h] = (uint32_t)(i + 1);
                break;
            }
            if (st->tensors[e - 1].name_len == t->name_len &&
                memcmp(st->tensors[e - 1].name, t->name, t->name_len) == 0) {
                const st_tensor *o = &st->tensors[e - 1];
                if (o->file == t->file)
                    return tfm__err(st->ctx, TFM_ERR_FORMAT,
                                    "safetensors: %s: duplicate tensor name '%s'",
                                    st->files[t->file].path, t->name);
                return tfm__err(st->ctx, TFM_ERR_FORMAT,
                                "safetensors: tensor '%s' is in both %s and %s", t->name,
                                st->files[o->file].path, st->files[t->file].path);
            }
            h = (h + 1) & (size - 1);
        }
    }
    return TFM_OK;
}

// ---- file images ----------------------------------------------------------------------

// Maps the file (reads it where mapping is unavailable or fails). An empty
// file gets an empty image: the header check reports it.
static tfm_status load_image(tfm_ctx *ctx, st_file *f) {
    tfm_status rc = tfm__file_map(ctx, f->path, "safetensors", TFM__FILE_MMAP_OR_READ,
                                  &f->map, &f->map_size, &f->mapped);
    if (rc != TFM_OK) return rc;
    f->base = f->map ? (const unsigned char *)f->map : (const unsigned char *)"";
    f->size = f->map_size;
    return TFM_OK;
}

// When the header length leaves tensors misaligned for their dtype, copies
// the data section into an aligned allocation (the offsets stay valid).
static tfm_status realign(tfm_safetensors *st, int32_t fi) {
    st_file *f = &st->files[fi];
    int64_t i;
    int bad = 0;
    void *copy;
    for (i = 0; i < st->n && !bad; i++) {
        const st_tensor *t = &st->tensors[i];
        if (t->file == fi && ((uintptr_t)(f->data + t->begin)) % t->esize != 0 &&
            t->begin % t->esize == 0)
            bad = 1;
    }
    if (!bad) return TFM_OK;
    copy = tfm__alloc_nozero(st->ctx, f->data_size);
    if (!copy) return tfm__err(st->ctx, TFM_ERR_NOMEM, "safetensors: %s: out of memory",
                               f->path);
    memcpy(copy, f->data, f->data_size);
    // The header document stays valid: it was parsed into its own arena.
    tfm__file_unmap(st->ctx, f->map, f->map_size, f->mapped);
    f->map = NULL;
    f->map_size = 0;
    f->buf = copy;
    f->buf_size = f->data_size;
    f->data = (const unsigned char *)copy;
    f->base = NULL;
    f->size = 0;
    return TFM_OK;
}

static tfm_status open_one(tfm_safetensors *st, const char *path) {
    int32_t fi = add_file(st, path);
    tfm_status rc;
    if (fi < 0) return tfm__err(st->ctx, TFM_ERR_NOMEM, "safetensors: out of memory");
    rc = load_image(st->ctx, &st->files[fi]);
    if (rc == TFM_OK) rc = parse_header(st, fi);
    if (rc == TFM_OK) rc = realign(st, fi);
    return rc;
}

// ---- index -------------------------------------------------------------------------

static int plain_file_name(const char *s, size_t n) {
    size_t i;
    if (n == 0 || strlen(s) != n) return 0;
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == '\\') return 0;
    return 1;
}

static int str_ptr_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static tfm_status open_index(tfm_safetensors *st, const char *path) {
    tfm_ctx *ctx = st->ctx;
    tfm__json_doc *doc = NULL;
    tfm__json_limits lim = tfm__json_limits_default();
    const tfm__json *wm;
    const char **names = NULL;
    size_t n = 0, i, j, dirlen, nbytes = 0;
    const char *slash = strrchr(path, '/');
    char *full = NULL;
    size_t full_size = 0;
    tfm_status rc;

    lim.max_size = INDEX_MAX;
    lim.max_depth = 16;
    rc = tfm__json_parse_file(ctx, path, &lim, &doc);
    if (rc != TFM_OK) {
        return tfm__err_wrap(ctx, rc, "safetensors: index");
    }
    wm = tfm__json_get(tfm__json_root(doc), "weight_map");
    if (!tfm__json_is(wm, TFM__JSON_OBJECT)) {
        rc = tfm__err(ctx, TFM_ERR_FORMAT, "safetensors: %s: weight_map is %s, not an object",
                      path, tfm__json_type_name(wm));
        goto done;
    }
    // The distinct shard names, sorted.
    if (wm->n) {
        names = (const char **)tfm__alloc(ctx, wm->n * sizeof *names);
        nbytes = wm->n * sizeof *names;
        if (!names) {
            rc = tfm__err(ctx, TFM_ERR_NOMEM, "safetensors: out of memory");
            goto done;
        }
    }
    for (i = 0; i < wm->n; i++) {
        const tfm__json *v = &wm->items[i];
        if (!tfm__json_is(v, TFM__JSON_STRING) || !plain_file_name(v->s, v->n)) {
            rc = tfm__err(ctx, TFM_ERR_FORMAT,
                          "safetensors: %s: weight_map '%s': %s is not a plain file name",
                          path, wm->keys[i].s,
                          tfm__json_is(v, TFM__JSON_STRING) ? "the value" : "a non-string");
            goto done;
        }
        names[n++] = v->s;
    }
    qsort(names, n, sizeof *names, str_ptr_cmp);
    for (i = 0, j = 0; i < n; i++)
        if (j == 0 || strcmp(names[j - 1], names[i]) != 0) names[j++] = names[i];
    n = j;
    dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    for (i = 0; i < n; i++) {
        size_t need = dirlen + strlen(names[i]) + 1;
        if (need > full_size) {
            char *nf = (char *)tfm__realloc(ctx, full, full_size, need);
            if (!nf) {
                rc = tfm__err(ctx, TFM_ERR_NOMEM, "safetensors: out of memory");
                goto done;
            }
            full = nf;
            full_size = need;
        }
        memcpy(full, path, dirlen);
        strcpy(full + dirlen, names[i]);
        rc = open_one(st, full);
        if (rc != TFM_OK) goto done;
    }
    rc = build_index(st);
    if (rc != TFM_OK) goto done;
    // Every tensor the index lists must be in the shard it names.
    for (i = 0; i < wm->n; i++) {
        int64_t k = tfm_safetensors_find(st, wm->keys[i].s);
        const char *where, *want = wm->items[i].s;
        size_t wl;
        if (k < 0) {
            rc = tfm__err(ctx, TFM_ERR_FORMAT,
                          "safetensors: %s: tensor '%s' is listed in %s but absent", path,
                          wm->keys[i].s, want);
            goto done;
        }
        where = st->files[st->tensors[k].file].path;
        wl = strlen(where);
        if (wl < strlen(want) || strcmp(where + wl - strlen(want), want) != 0 ||
            (wl > strlen(want) && where[wl - strlen(want) - 1] != '/')) {
            rc = tfm__err(ctx, TFM_ERR_FORMAT,
                          "safetensors: %s: tensor '%s' is listed in %s but found in %s",
                          path, wm->keys[i].s, want, where);
            goto done;
        }
    }
    rc = TFM_OK;
done:
    tfm__free(ctx, names, nbytes);
    tfm__free(ctx, full, full_size);
    tfm__json_free(doc);
    return rc;
}

// ---- public: open ------------------------------------------------------------------

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int is_dir(const char *path) {
#if TFM__HAVE_STAT
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
#else
    (void)path;
    return 0;
#endif
}

tfm_status tfm_safetensors_open(tfm_ctx *ctx, const char *path, tfm_safetensors **out) {
    tfm_safetensors *st = NULL;
    tfm_status rc;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "safetensors: out is NULL");
    *out = NULL;
    if (!ctx || !path)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "safetensors: %s is NULL",
                        ctx ? "path" : "ctx");
    rc = set_new(ctx, &st);
    if (rc != TFM_OK) return rc;
    if (is_dir(path)) {
        size_t n = strlen(path);
        const char *sep = n && path[n - 1] == '/' ? "" : "/";
        size_t size = n + 48;
        char *p = (char *)tfm__alloc_nozero(ctx, size);
        if (!p) {
            tfm_safetensors_close(st);
            return tfm__err(ctx, TFM_ERR_NOMEM, "safetensors: out of memory");
        }
        snprintf(p, size, "%s%smodel.safetensors.index.json", path, sep);
        if (tfm__file_exists(p)) {
            rc = open_index(st, p);
        } else {
            snprintf(p, size, "%s%smodel.safetensors", path, sep);
            if (tfm__file_exists(p))
                rc = open_one(st, p);
            else
                rc = tfm__err(ctx, TFM_ERR_NOT_FOUND,
                              "safetensors: %s: no model.safetensors or "
                              "model.safetensors.index.json in the folder", path);
            if (rc == TFM_OK) rc = build_index(st);
        }
        tfm__free(ctx, p, size);
    } else if (ends_with(path, ".json")) {
        rc = open_index(st, path);
    } else {
        rc = open_one(st, path);
        if (rc == TFM_OK) rc = build_index(st);
    }
    if (rc != TFM_OK) {
        tfm_safetensors_close(st);
        return rc;
    }
    *out = st;
    return TFM_OK;
}

tfm_status tfm_safetensors_open_memory(tfm_ctx *ctx, const void *data, size_t size,
                                       const char *name, tfm_safetensors **out) {
    tfm_safetensors *st = NULL;
    tfm_status rc;
    int32_t fi;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "safetensors: out is NULL");
    *out = NULL;
    if (!ctx || (!data && size > 0))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "safetensors: %s is NULL",
                        ctx ? "data" : "ctx");
    rc = set_new(ctx, &st);
    if (rc != TFM_OK) return rc;
    fi = add_file(st, name ? name : "<memory>");
    if (fi < 0) {
        tfm_safetensors_close(st);
        return tfm__err(ctx, TFM_ERR_NOMEM, "safetensors: out of memory");
    }
    st->files[fi].base = (const unsigned char *)(data ? data : "");
    st->files[fi].size = size;
    rc = parse_header(st, fi);
    if (rc == TFM_OK) rc = build_index(st);
    if (rc != TFM_OK) {
        tfm_safetensors_close(st);
        return rc;
    }
    *out = st;
    return TFM_OK;
}

// ---- public: lookups ---------------------------------------------------------------

int64_t tfm_safetensors_count(const tfm_safetensors *st) { return st ? st->n : 0; }

uint64_t tfm__safetensors_data_bytes(const tfm_safetensors *st) {
    uint64_t n = 0;
    int32_t i;
    for (i = 0; st && i < st->nfiles; i++) n += st->files[i].data_size;
    return n;
}

const char *tfm_safetensors_name(const tfm_safetensors *st, int64_t i) {
    if (!st || i < 0 || i >= st->n) return NULL;
    return st->tensors[i].name;
}

static int64_t find_n(const tfm_safetensors *st, const char *name, size_t len) {
    size_t h;
    if (!st || !name || !st->hash) return -1;
    h = tfm__hash_bytes(name, len) & (st->hsize - 1);
    for (;;) {
        uint32_t e = st->hash[h];
        if (e == 0) return -1;
        if (st->tensors[e - 1].name_len == len &&
            memcmp(st->tensors[e - 1].name, name, len) == 0)
            return (int64_t)e - 1;
        h = (h + 1) & (st->hsize - 1);
    }
}

int64_t tfm_safetensors_find(const tfm_safetensors *st, const char *name) {
    return name ? find_n(st, name, strlen(name)) : -1;
}

void tfm_safetensors_info_init(tfm_safetensors_info *dst, size_t struct_size) {
    tfm_safetensors_info z;
    memset(&z, 0, sizeof z);
    z.struct_size = sizeof z;
    tfm__params_init(dst, struct_size, &z, sizeof z);
}

// Fills the caller's info (an output struct: at most its struct_size bytes).
tfm_status tfm_safetensors_info_at(const tfm_safetensors *st, int64_t i,
                                   tfm_safetensors_info *info) {
    tfm_safetensors_info r;
    const st_tensor *t;
    int32_t d;
    if (!info) return TFM_ERR_INVALID_ARG;
    memset(&r, 0, sizeof r);
    if (tfm__out_write(info, &r, sizeof r) || !st) return TFM_ERR_INVALID_ARG;
    if (i < 0 || i >= st->n) return TFM_ERR_RANGE;
    t = &st->tensors[i];
    r.name = t->name;
    r.dtype_name = t->dtype_name;
    r.dtype = t->dtype;
    r.ndim = t->ndim;
    for (d = 0; d < t->ndim; d++) r.shape[d] = t->shape[d];
    r.data = st->files[t->file].data + t->begin;
    r.nbytes = t->end - t->begin;
    r.file = st->files[t->file].path;
    return tfm__out_write(info, &r, sizeof r);
}

// Fills out from record k; out is zeroed on failure.
static tfm_status make_view(tfm_ctx *ctx, const tfm_safetensors *st, int64_t k,
                            tfm_tensor *out) {
    const st_tensor *t = &st->tensors[k];
    const char *fp = st->files[t->file].path;
    const unsigned char *p = st->files[t->file].data + t->begin;
    int64_t shape[TFM_MAX_DIMS] = {1, 1, 1, 1};
    char sbuf[160];
    int32_t d;
    if (t->dtype < 0)
        return tfm__err(ctx, TFM_ERR_DTYPE,
                        "safetensors: %s: tensor '%s': dtype %s is not supported", fp,
                        t->name, t->dtype_name);
    if (t->ndim > TFM_MAX_DIMS)
        return tfm__err(ctx, TFM_ERR_SHAPE,
                        "safetensors: %s: tensor '%s': shape %s has %d dimensions, more "
                        "than %d", fp, t->name, shape_str(t, sbuf, sizeof sbuf),
                        (int)t->ndim, TFM_MAX_DIMS);
    for (d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 0)
            return tfm__err(ctx, TFM_ERR_SHAPE,
                            "safetensors: %s: tensor '%s': shape %s is empty", fp, t->name,
                            shape_str(t, sbuf, sizeof sbuf));
        shape[d] = t->shape[d];
    }
    if (((uintptr_t)p) % t->esize != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "safetensors: %s: tensor '%s': data at offset %llu is not aligned "
                        "to %u bytes", fp, t->name, (unsigned long long)t->begin,
                        (unsigned)t->esize);
    if (tfm_tensor_wrap(out, (tfm_dtype)t->dtype, t->ndim ? t->ndim : 1, shape,
                        (void *)(uintptr_t)p) != TFM_OK)
        return tfm__err(ctx, TFM_ERR_SHAPE, "safetensors: %s: tensor '%s': shape %s too large",
                        fp, t->name, shape_str(t, sbuf, sizeof sbuf));
    return TFM_OK;
}

tfm_status tfm_safetensors_get(tfm_ctx *ctx, const tfm_safetensors *st, const char *name,
                               tfm_tensor *out) {
    int64_t k;
    tfm_status rc;
    if (out) memset(out, 0, sizeof *out);
    if (!st || !name || !out)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "safetensors: get: %s is NULL",
                        !st ? "st" : !name ? "name" : "out");
    k = tfm_safetensors_find(st, name);
    if (k < 0)
        return tfm__err(ctx, TFM_ERR_NOT_FOUND, "safetensors: %s: no tensor '%s'",
                        st->nfiles ? st->files[0].path : "(empty)", name);
    rc = make_view(ctx, st, k, out);
    if (rc != TFM_OK) memset(out, 0, sizeof *out);
    return rc;
}

tfm_status tfm_safetensors_get_prefixed(tfm_ctx *ctx, const tfm_safetensors *st,
                                        const char *const *prefixes, int n_prefixes,
                                        const char *name, tfm_tensor *out) {
    char buf[1024], tried[TFM__ERRMSG_SIZE];
    size_t tl = 0;
    int i;
    tfm_status rc;
    if (out) memset(out, 0, sizeof *out);
    if (!st || !name || !out || n_prefixes < 0 || (n_prefixes > 0 && !prefixes))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "safetensors: get_prefixed: bad argument");
    if (n_prefixes == 0) return tfm_safetensors_get(ctx, st, name, out);
    tried[0] = '\0';
    for (i = 0; i < n_prefixes; i++) {
        const char *pre = prefixes[i] ? prefixes[i] : "";
        int64_t k;
        int len = snprintf(buf, sizeof buf, "%s%s", pre, name);
        if (len < 0 || (size_t)len >= sizeof buf) continue;
        k = tfm_safetensors_find(st, buf);
        if (k >= 0) {
            rc = make_view(ctx, st, k, out);
            if (rc != TFM_OK) memset(out, 0, sizeof *out);
            return rc;
        }
        if (tl < sizeof tried) {
            int w = snprintf(tried + tl, sizeof tried - tl, "%s'%s'", i ? ", " : "", buf);
            if (w > 0) tl += (size_t)w;
        }
    }
    return tfm__err(ctx, TFM_ERR_NOT_FOUND, "safetensors: %s: no tensor '%s' (tried %s)",
                    st->nfiles ? st->files[0].path : "(empty)", name, tried);
}

// ---- public: metadata --------------------------------------------------------------

static const tfm__json *first_meta(const tfm_safetensors *st) {
    return st && st->nfiles ? st->files[0].meta : NULL;
}

int64_t tfm_safetensors_metadata_count(const tfm_safetensors *st) {
    return (int64_t)tfm__json_len(first_meta(st));
}

const char *tfm_safetensors_metadata_key(const tfm_safetensors *st, int64_t i) {
    if (i < 0) return NULL;
    return tfm__json_key_at(first_meta(st), (size_t)i, NULL);
}

const char *tfm_safetensors_metadata_get(const tfm_safetensors *st, const char *key) {
    return tfm__json_str(tfm__json_get(first_meta(st), key));
}
