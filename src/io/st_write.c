/*
 * Writing a safetensors file: an 8-byte little-endian header length, the
 * JSON header (every tensor's dtype, shape and data offsets, and the
 * __metadata__ strings), padded with spaces so the data starts 64-byte
 * aligned, then each tensor's bytes at a 64-byte aligned offset. Written to
 * "<path>.tmp" and renamed, so a failed write leaves no partial file.
 */
#include "st_write.h"
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ALIGN 64

// A growing string in ctx memory.
typedef struct sbuf {
    tfm_ctx *ctx;
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *q;
        while (cap < b->n + n + 1) cap *= 2;
        if (!(q = (char *)tfm__realloc(b->ctx, b->p, b->cap, cap))) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

// s as a JSON string literal.
static void put_str(sbuf *b, const char *s) {
    char esc[8];
    put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(b, esc, 6);
        } else {
            put(b, (const char *)s, 1);
        }
    }
    put(b, "\"", 1);
}

static size_t align_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

tfm_status tfm__st_write(tfm_ctx *ctx, const char *path, const tfm__st_entry *e, int64_t n,
                         const char *const *meta, int n_meta) {
    sbuf h;
    char num[64], tmp[4200];
    size_t off = 0, hlen, i;
    unsigned char len8[8];
    static const char zeros[ALIGN] = {0};
    FILE *f;
    int64_t t;
    int d, ok;
    memset(&h, 0, sizeof h);
    h.ctx = ctx;
    if (strlen(path) + 5 > sizeof tmp)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "safetensors: path too long: %s", path);
    puts_(&h, "{\"__metadata__\":{");
    for (d = 0; d < n_meta; d++) {
        if (d) puts_(&h, ",");
        put_str(&h, meta[2 * d]);
        puts_(&h, ":");
        put_str(&h, meta[2 * d + 1]);
    }
    puts_(&h, "}");
    for (t = 0; t < n; t++) {
        puts_(&h, ",");
        put_str(&h, e[t].name);
        puts_(&h, ":{\"dtype\":");
        put_str(&h, e[t].dtype);
        puts_(&h, ",\"shape\":[");
        for (d = 0; d < e[t].ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)e[t].shape[d]);
            puts_(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + e[t].bytes));
        puts_(&h, num);
        off = align_up(off + e[t].bytes);
    }
    puts_(&h, "}");
    if (h.oom) {
        tfm__free(ctx, h.p, h.cap);
        return tfm__err(ctx, TFM_ERR_NOMEM, "safetensors: out of memory writing %s", path);
    }
    hlen = align_up(8 + h.n) - 8; // data starts aligned
    for (i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!(f = fopen(tmp, "wb"))) {
        int err = errno;
        tfm__free(ctx, h.p, h.cap);
        return tfm__err(ctx, tfm__open_status(err), "safetensors: %s: %s", tmp, strerror(err));
    }
    ok = fwrite(len8, 1, 8, f) == 8 && fwrite(h.p, 1, h.n, f) == h.n;
    for (i = h.n; ok && i < hlen; i++) ok = fputc(' ', f) != EOF;
    for (t = 0, off = 0; ok && t < n; t++) {
        size_t pad = align_up(e[t].bytes) - e[t].bytes;
        ok = (e[t].bytes == 0 || fwrite(e[t].data, 1, e[t].bytes, f) == e[t].bytes) &&
             (t + 1 == n || pad == 0 || fwrite(zeros, 1, pad, f) == pad);
    }
    tfm__free(ctx, h.p, h.cap);
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        int err = errno;
        remove(tmp);
        return tfm__err(ctx, TFM_ERR_IO, "safetensors: writing %s: %s", path, strerror(err));
    }
    return TFM_OK;
}
