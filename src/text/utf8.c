/*
 * Strict UTF-8: every code point in its shortest form, no surrogates, nothing
 * past U+10FFFF, no truncated or stray sequences.
 */
#include "unicode.h"

int tfm__utf8_decode(const unsigned char *s, size_t n, size_t i, uint32_t *cp) {
    unsigned c = s[i];
    uint32_t v;
    int len, k;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xE0) {
        len = 2;
        v = c & 0x1F;
    } else if (c < 0xF0) {
        len = 3;
        v = c & 0x0F;
    } else if (c < 0xF5) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (n - i < (size_t)len) return 0;
    for (k = 1; k < len; k++) {
        unsigned d = s[i + (size_t)k];
        if ((d & 0xC0) != 0x80) return 0;
        v = (v << 6) | (d & 0x3F);
    }
    if (len == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) return 0;
    if (len == 4 && (v < 0x10000 || v > 0x10FFFF)) return 0;
    *cp = v;
    return len;
}

size_t tfm__utf8_validate(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        int l;
        /* ASCII runs 8 bytes at a time would be faster; bytes are simple. */
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        l = tfm__utf8_decode(u, n, i, &cp);
        if (!l) return i;
        i += (size_t)l;
    }
    return n;
}

tfm_status tfm__utf8_check(tfm_ctx *ctx, const char *s, size_t n,
                           const char *what) {
    size_t bad = tfm__utf8_validate(s, n);
    if (bad < n)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "%s: invalid UTF-8 at byte %zu (0x%02X)", what, bad,
                        (unsigned)(unsigned char)s[bad]);
    return TFM_OK;
}

int tfm__utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
