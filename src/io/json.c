/*
 * JSON parser into a read-only DOM kept in an arena. See json.h.
 *
 * Shape of the parse: a recursive descent over [text, text + len). Values of
 * an array or object being parsed are pushed onto one growable stack (keys on
 * a parallel one); when the container closes its items are copied into the
 * arena in one piece and popped, so every container's items are contiguous.
 */
#include "json.h"
#include "file.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (64u * 1024u)
#define DEPTH_CAP 1024u /* recursion bound whatever the limits say */
#define HASH_MIN 8u     /* objects with more members get a hash table */

// ---- arena -------------------------------------------------------------------------

typedef struct chunk {
    struct chunk *next;
    size_t size; // bytes allocated for this chunk, header included
    size_t used; // bytes used after the header
} chunk;

#define CHUNK_HDR ((sizeof(chunk) + 15u) & ~(size_t)15u)

struct tfm__json_doc {
    tfm_ctx *ctx;
    chunk *chunks;
    tfm__json root;
};

typedef struct parser {
    tfm_ctx *ctx;
    const unsigned char *t; // text
    size_t len, pos;
    const char *what;
    tfm__json_limits lim;
    tfm__json_doc *doc;
    size_t mem;             // bytes held (arena + stacks)
    tfm__json *vals;        // value stack
    size_t nvals, capvals;
    tfm__json_key *keys;    // key stack
    size_t nkeys, capkeys;
    tfm_status st;
} parser;

static int fail_range(parser *p, const char *what, size_t limit) {
    p->st = tfm__err(p->ctx, TFM_ERR_RANGE, "json: %s: %s past the limit of %zu",
                     p->what, what, limit);
    return 0;
}

static int fail_nomem(parser *p) {
    p->st = tfm__err(p->ctx, TFM_ERR_NOMEM, "json: %s: out of memory", p->what);
    return 0;
}

// Malformed text at byte `at`: the message gives line, column and offset, and
// what was found there.
static int fail_at(parser *p, size_t at, const char *msg) {
    size_t i, line = 1, col_start = 0;
    char found[32];
    if (at > p->len) at = p->len;
    for (i = 0; i < at; i++)
        if (p->t[i] == '\n') {
            line++;
            col_start = i + 1;
        }
    if (at >= p->len)
        snprintf(found, sizeof found, "end of input");
    else if (p->t[at] >= 0x20 && p->t[at] < 0x7f)
        snprintf(found, sizeof found, "'%c'", p->t[at]);
    else
        snprintf(found, sizeof found, "byte 0x%02x", p->t[at]);
    p->st = tfm__err(p->ctx, TFM_ERR_FORMAT,
                     "json: %s: line %zu, column %zu (byte %zu): %s, found %s",
                     p->what, line, at - col_start + 1, at, msg, found);
    return 0;
}

static void *arena_alloc(parser *p, size_t n) {
    chunk *c = p->doc->chunks;
    void *r;
    n = (n + 7u) & ~(size_t)7u;
    if (n == 0) n = 8;
    if (!c || c->size - CHUNK_HDR - c->used < n) {
        size_t size = n > ARENA_CHUNK - CHUNK_HDR ? n + CHUNK_HDR : ARENA_CHUNK;
        if (n > (size_t)-1 / 2 || p->mem + size > p->lim.max_memory ||
            p->mem + size < p->mem) {
            fail_range(p, "memory for the tree", p->lim.max_memory);
            return NULL;
        }
        c = (chunk *)tfm__alloc_nozero(p->ctx, size);
        if (!c) {
            fail_nomem(p);
            return NULL;
        }
        p->mem += size;
        c->size = size;
        c->used = 0;
        c->next = p->doc->chunks;
        p->doc->chunks = c;
    }
    r = (char *)c + CHUNK_HDR + c->used;
    c->used += n;
    return r;
}

// Grows a stack (vals or keys) to hold one more element.
static int stack_grow(parser *p, void **buf, size_t *cap, size_t elem) {
    size_t ncap = *cap ? *cap * 2 : 64, osize = *cap * elem, nsize;
    void *nb;
    if (!tfm__mul_size(ncap, elem, &nsize) || nsize - osize > p->lim.max_memory ||
        p->mem + (nsize - osize) > p->lim.max_memory)
        return fail_range(p, "memory for the tree", p->lim.max_memory);
    nb = tfm__realloc(p->ctx, *buf, osize, nsize);
    if (!nb) return fail_nomem(p);
    p->mem += nsize - osize;
    *buf = nb;
    *cap = ncap;
    return 1;
}

// ---- lexing helpers ----------------------------------------------------------------

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->t[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int match_word(parser *p, const char *w) {
    size_t n = strlen(w);
    if (p->len - p->pos < n || memcmp(p->t + p->pos, w, n) != 0) return 0;
    p->pos += n;
    return 1;
}

// Length (1..4) of the valid UTF-8 sequence at s[0, n), or 0 if invalid.
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  // overlong
        if (c == 0xED && s[1] >= 0xA0) return 0; // surrogate
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;  // overlong
        if (c == 0xF4 && s[1] >= 0x90) return 0; // past U+10FFFF
        return 4;
    }
    return 0;
}

static size_t utf8_put(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// Reads 4 hex digits at t[at, at+4) (bounds checked by the caller).
static int hex4(const unsigned char *t, uint32_t *out) {
    uint32_t v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned char c = t[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

// ---- strings -----------------------------------------------------------------------

// Parses the string whose opening quote is at p->pos into arena memory.
static int parse_string(parser *p, const char **out, size_t *out_len) {
    size_t start = p->pos, i = p->pos + 1, end, n = 0;
    char *o;
    // Find the closing quote; the decoded text is never longer than the raw.
    for (;;) {
        if (i >= p->len) return fail_at(p, start, "unterminated string");
        if (p->t[i] == '"') break;
        i += p->t[i] == '\\' ? 2 : 1;
    }
    end = i;
    o = (char *)arena_alloc(p, end - start);
    if (!o) return 0;
    i = start + 1;
    while (i < end) {
        unsigned char c = p->t[i];
        if (c == '\\') {
            unsigned char e = p->t[i + 1]; // i + 1 < end: the scan skipped it
            i += 2;
            switch (e) {
            case '"': o[n++] = '"'; break;
            case '\\': o[n++] = '\\'; break;
            case '/': o[n++] = '/'; break;
            case 'b': o[n++] = '\b'; break;
            case 'f': o[n++] = '\f'; break;
            case 'n': o[n++] = '\n'; break;
            case 'r': o[n++] = '\r'; break;
            case 't': o[n++] = '\t'; break;
            case 'u': {
                uint32_t cp, lo;
                if (end - i < 4 || !hex4(p->t + i, &cp))
                    return fail_at(p, i - 2, "invalid \\u escape (needs 4 hex digits)");
                i += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - i >= 6 && p->t[i] == '\\' && p->t[i + 1] == 'u' &&
                        hex4(p->t + i + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    } else {
                        cp = 0xFFFD; // lone high surrogate
                    }
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    cp = 0xFFFD; // lone low surrogate
                }
                n += utf8_put(o + n, cp);
                break;
            }
            default:
                return fail_at(p, i - 2, "invalid escape in string");
            }
        } else if (c < 0x20) {
            return fail_at(p, i, "control character in string (must be escaped)");
        } else if (c < 0x80) {
            o[n++] = (char)c;
            i++;
        } else {
            size_t k = utf8_len(p->t + i, end - i), j;
            if (!k) return fail_at(p, i, "invalid UTF-8 in string");
            for (j = 0; j < k; j++) o[n++] = (char)p->t[i + j];
            i += k;
        }
    }
    o[n] = '\0';
    p->pos = end + 1;
    *out = o;
    *out_len = n;
    return 1;
}

// ---- numbers -----------------------------------------------------------------------

// strtod on a copy of the token; strtod follows the C locale's decimal point,
// so a token it stops short on is retried with '.' replaced by the locale's.
static double token_to_double(const char *tok, size_t n) {
    char *end;
    double v = strtod(tok, &end);
    if ((size_t)(end - tok) != n) {
        char alt[512];
        const char *dp = localeconv()->decimal_point;
        char *dot;
        if (n < sizeof alt && dp && dp[0] && !dp[1]) {
            memcpy(alt, tok, n + 1);
            dot = strchr(alt, '.');
            if (dot) *dot = dp[0];
            v = strtod(alt, &end);
        }
    }
    return v;
}

static int parse_number(parser *p, tfm__json *v) {
    size_t start = p->pos, i = p->pos;
    int neg = 0, plain = 1;
    v->type = TFM__JSON_NUMBER;
    if (i < p->len && p->t[i] == '-') {
        neg = 1;
        i++;
    }
    if (i < p->len && p->t[i] == 'I') {
        p->pos = i;
        if (!match_word(p, "Infinity")) return fail_at(p, start, "invalid number");
        v->num = neg ? -HUGE_VAL : HUGE_VAL;
        return 1;
    }
    if (i >= p->len || p->t[i] < '0' || p->t[i] > '9')
        return fail_at(p, i, "invalid number (expected a digit)");
    if (p->t[i] == '0') {
        i++;
        if (i < p->len && p->t[i] >= '0' && p->t[i] <= '9')
            return fail_at(p, i, "invalid number (leading zero)");
    } else {
        while (i < p->len && p->t[i] >= '0' && p->t[i] <= '9') i++;
    }
    if (i < p->len && p->t[i] == '.') {
        plain = 0;
        i++;
        if (i >= p->len || p->t[i] < '0' || p->t[i] > '9')
            return fail_at(p, i, "invalid number (expected a digit after '.')");
        while (i < p->len && p->t[i] >= '0' && p->t[i] <= '9') i++;
    }
    if (i < p->len && (p->t[i] == 'e' || p->t[i] == 'E')) {
        plain = 0;
        i++;
        if (i < p->len && (p->t[i] == '+' || p->t[i] == '-')) i++;
        if (i >= p->len || p->t[i] < '0' || p->t[i] > '9')
            return fail_at(p, i, "invalid number (expected a digit in the exponent)");
        while (i < p->len && p->t[i] >= '0' && p->t[i] <= '9') i++;
    }
    p->pos = i;
    if (plain) {
        // Exact integer when it fits int64.
        uint64_t m = 0, lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
        size_t j = start + (size_t)neg;
        int ok = 1;
        for (; j < i; j++) {
            unsigned d = (unsigned)(p->t[j] - '0');
            if (m > (lim - d) / 10) {
                ok = 0;
                break;
            }
            m = m * 10 + d;
        }
        if (ok) {
            v->is_int = 1;
            v->i = neg ? (m == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)m)
                       : (int64_t)m;
            v->num = (double)v->i;
            return 1;
        }
    }
    {
        size_t n = i - start;
        char buf[128], *tok = buf;
        if (n >= sizeof buf) {
            tok = (char *)tfm__alloc_nozero(p->ctx, n + 1);
            if (!tok) return fail_nomem(p);
        }
        memcpy(tok, p->t + start, n);
        tok[n] = '\0';
        v->num = token_to_double(tok, n);
        if (tok != buf) tfm__free(p->ctx, tok, n + 1);
    }
    // Integral doubles in range also get the int64 (1e3, 2.0, -0.0).
    if (v->num == v->num && v->num >= -9223372036854775808.0 &&
        v->num < 9223372036854775808.0 && v->num == (double)(int64_t)v->num) {
        v->is_int = 1;
        v->i = (int64_t)v->num;
    }
    return 1;
}

// ---- values ------------------------------------------------------------------------

static int build_hash(parser *p, tfm__json *obj) {
    size_t size = 16, i;
    uint32_t *tab;
    while (size < obj->n * 2) size *= 2;
    tab = (uint32_t *)arena_alloc(p, size * sizeof *tab);
    if (!tab) return 0;
    memset(tab, 0, size * sizeof *tab);
    for (i = 0; i < obj->n; i++) {
        const tfm__json_key *k = &obj->keys[i];
        size_t h = tfm__hash_bytes(k->s, k->len) & (size - 1);
        for (;;) {
            uint32_t e = tab[h];
            if (e == 0) {
                tab[h] = (uint32_t)(i + 1);
                break;
            }
            if (obj->keys[e - 1].len == k->len &&
                memcmp(obj->keys[e - 1].s, k->s, k->len) == 0) {
                tab[h] = (uint32_t)(i + 1); // the last duplicate wins
                break;
            }
            h = (h + 1) & (size - 1);
        }
    }
    obj->hash = tab;
    obj->hmask = (uint32_t)(size - 1);
    return 1;
}

static int parse_value(parser *p, size_t depth, tfm__json *v);

// Moves the top n values (and keys, for objects) off the stacks into the arena.
static int finish_container(parser *p, tfm__json *v, size_t vbase, size_t kbase) {
    size_t n = p->nvals - vbase;
    v->n = n;
    if (n > 0x3fffffffu) return fail_range(p, "items in one array or object", 0x3fffffffu);
    if (n) {
        tfm__json *items = (tfm__json *)arena_alloc(p, n * sizeof *items);
        if (!items) return 0;
        memcpy(items, p->vals + vbase, n * sizeof *items);
        v->items = items;
    }
    p->nvals = vbase;
    if (v->type == TFM__JSON_OBJECT && n) {
        tfm__json_key *keys = (tfm__json_key *)arena_alloc(p, n * sizeof *keys);
        if (!keys) return 0;
        memcpy(keys, p->keys + kbase, n * sizeof *keys);
        v->keys = keys;
        p->nkeys = kbase;
        if (n > HASH_MIN && !build_hash(p, v)) return 0;
    }
    return 1;
}

static int push_value(parser *p, const tfm__json *v) {
    if (p->nvals == p->capvals &&
        !stack_grow(p, (void **)&p->vals, &p->capvals, sizeof *p->vals))
        return 0;
    p->vals[p->nvals++] = *v;
    return 1;
}

static int parse_array(parser *p, size_t depth, tfm__json *v) {
    size_t base = p->nvals;
    v->type = TFM__JSON_ARRAY;
    p->pos++; // '['
    skip_ws(p);
    if (p->pos < p->len && p->t[p->pos] == ']') {
        p->pos++;
        return finish_container(p, v, base, p->nkeys);
    }
    for (;;) {
        tfm__json item;
        if (!parse_value(p, depth + 1, &item) || !push_value(p, &item)) return 0;
        skip_ws(p);
        if (p->pos < p->len && p->t[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->t[p->pos] == ']') {
            p->pos++;
            return finish_container(p, v, base, p->nkeys);
        }
        return fail_at(p, p->pos, "expected ',' or ']' in array");
    }
}

static int parse_object(parser *p, size_t depth, tfm__json *v) {
    size_t vbase = p->nvals, kbase = p->nkeys;
    v->type = TFM__JSON_OBJECT;
    p->pos++; // '{'
    skip_ws(p);
    if (p->pos < p->len && p->t[p->pos] == '}') {
        p->pos++;
        return finish_container(p, v, vbase, kbase);
    }
    for (;;) {
        tfm__json item;
        tfm__json_key key;
        skip_ws(p);
        if (p->pos >= p->len || p->t[p->pos] != '"')
            return fail_at(p, p->pos, "expected a string key in object");
        if (!parse_string(p, &key.s, &key.len)) return 0;
        skip_ws(p);
        if (p->pos >= p->len || p->t[p->pos] != ':')
            return fail_at(p, p->pos, "expected ':' after key");
        p->pos++;
        if (!parse_value(p, depth + 1, &item)) return 0;
        if (p->nkeys == p->capkeys &&
            !stack_grow(p, (void **)&p->keys, &p->capkeys, sizeof *p->keys))
            return 0;
        p->keys[p->nkeys++] = key;
        if (!push_value(p, &item)) return 0;
        skip_ws(p);
        if (p->pos < p->len && p->t[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->t[p->pos] == '}') {
            p->pos++;
            return finish_container(p, v, vbase, kbase);
        }
        return fail_at(p, p->pos, "expected ',' or '}' in object");
    }
}

static int parse_value(parser *p, size_t depth, tfm__json *v) {
    memset(v, 0, sizeof *v);
    skip_ws(p);
    if (p->pos >= p->len) return fail_at(p, p->pos, "expected a value");
    switch (p->t[p->pos]) {
    case '{':
    case '[':
        if (depth >= p->lim.max_depth)
            return fail_range(p, "nesting depth", p->lim.max_depth);
        return p->t[p->pos] == '{' ? parse_object(p, depth, v)
                                   : parse_array(p, depth, v);
    case '"':
        v->type = TFM__JSON_STRING;
        return parse_string(p, &v->s, &v->n);
    case 't':
        if (!match_word(p, "true")) break;
        v->type = TFM__JSON_BOOL;
        v->boolean = 1;
        return 1;
    case 'f':
        if (!match_word(p, "false")) break;
        v->type = TFM__JSON_BOOL;
        return 1;
    case 'n':
        if (!match_word(p, "null")) break;
        v->type = TFM__JSON_NULL;
        return 1;
    case 'N':
        if (!match_word(p, "NaN")) break;
        v->type = TFM__JSON_NUMBER;
        v->num = NAN;
        return 1;
    default:
        if (p->t[p->pos] == '-' || p->t[p->pos] == 'I' ||
            (p->t[p->pos] >= '0' && p->t[p->pos] <= '9'))
            return parse_number(p, v);
        break;
    }
    return fail_at(p, p->pos, "expected a value");
}

// ---- documents ---------------------------------------------------------------------

tfm__json_limits tfm__json_limits_default(void) {
    tfm__json_limits l;
    l.max_depth = 256;
    l.max_size = (size_t)1 << 30;
    l.max_memory = sizeof(size_t) > 4 ? ((size_t)1 << 31) * 2u : (size_t)1 << 30;
    return l;
}

void tfm__json_free(tfm__json_doc *doc) {
    chunk *c;
    tfm_ctx *ctx;
    if (!doc) return;
    ctx = doc->ctx;
    c = doc->chunks;
    while (c) {
        chunk *next = c->next;
        tfm__free(ctx, c, c->size);
        c = next;
    }
    tfm__free(ctx, doc, sizeof *doc);
}

tfm_status tfm__json_parse(tfm_ctx *ctx, const char *text, size_t len,
                           const char *what, const tfm__json_limits *limits,
                           tfm__json_doc **out) {
    parser p;
    int ok;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "json: out is NULL");
    *out = NULL;
    if (!text && len > 0) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "json: text is NULL");
    memset(&p, 0, sizeof p);
    p.ctx = ctx;
    p.t = (const unsigned char *)(text ? text : "");
    p.len = len;
    p.what = what ? what : "input";
    p.lim = limits ? *limits : tfm__json_limits_default();
    if (p.lim.max_depth > DEPTH_CAP) p.lim.max_depth = DEPTH_CAP;
    if (len > p.lim.max_size) {
        return tfm__err(ctx, TFM_ERR_RANGE, "json: %s: %zu bytes past the limit of %zu",
                        p.what, len, p.lim.max_size);
    }
    p.doc = (tfm__json_doc *)tfm__alloc(ctx, sizeof *p.doc);
    if (!p.doc) return tfm__err(ctx, TFM_ERR_NOMEM, "json: %s: out of memory", p.what);
    p.doc->ctx = ctx;
    p.st = TFM_OK;
    if (len >= 3 && p.t[0] == 0xEF && p.t[1] == 0xBB && p.t[2] == 0xBF) p.pos = 3;
    ok = parse_value(&p, 0, &p.doc->root);
    if (ok) {
        skip_ws(&p);
        if (p.pos < p.len) ok = fail_at(&p, p.pos, "unexpected data after the value");
    }
    tfm__free(ctx, p.vals, p.capvals * sizeof *p.vals);
    tfm__free(ctx, p.keys, p.capkeys * sizeof *p.keys);
    if (!ok) {
        tfm__json_free(p.doc);
        return p.st;
    }
    *out = p.doc;
    return TFM_OK;
}

tfm_status tfm__json_parse_file(tfm_ctx *ctx, const char *path,
                                const tfm__json_limits *limits,
                                tfm__json_doc **out) {
    char *buf;
    size_t size;
    tfm_status st;
    tfm__json_limits lim = limits ? *limits : tfm__json_limits_default();
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "json: out is NULL");
    *out = NULL;
    if (!path) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "json: path is NULL");
    if ((st = tfm__read_file(ctx, path, lim.max_size, "json", &buf, &size))) return st;
    st = tfm__json_parse(ctx, buf, size, path, &lim, out);
    tfm__free(ctx, buf, size + 1);
    return st;
}

const tfm__json *tfm__json_root(const tfm__json_doc *doc) {
    return doc ? &doc->root : NULL;
}

// ---- navigation --------------------------------------------------------------------

const tfm__json *tfm__json_getn(const tfm__json *obj, const char *key,
                                size_t key_len) {
    size_t i;
    if (!obj || obj->type != TFM__JSON_OBJECT || !key) return NULL;
    if (obj->hash) {
        size_t h = tfm__hash_bytes(key, key_len) & obj->hmask;
        for (;;) {
            uint32_t e = obj->hash[h];
            if (e == 0) return NULL;
            if (obj->keys[e - 1].len == key_len &&
                memcmp(obj->keys[e - 1].s, key, key_len) == 0)
                return &obj->items[e - 1];
            h = (h + 1) & obj->hmask;
        }
    }
    for (i = obj->n; i-- > 0;)
        if (obj->keys[i].len == key_len && memcmp(obj->keys[i].s, key, key_len) == 0)
            return &obj->items[i];
    return NULL;
}

const tfm__json *tfm__json_get(const tfm__json *obj, const char *key) {
    return key ? tfm__json_getn(obj, key, strlen(key)) : NULL;
}

const tfm__json *tfm__json_at(const tfm__json *v, size_t i) {
    if (!v || (v->type != TFM__JSON_ARRAY && v->type != TFM__JSON_OBJECT) || i >= v->n)
        return NULL;
    return &v->items[i];
}

const char *tfm__json_key_at(const tfm__json *obj, size_t i, size_t *len) {
    if (!obj || obj->type != TFM__JSON_OBJECT || i >= obj->n) return NULL;
    if (len) *len = obj->keys[i].len;
    return obj->keys[i].s;
}

size_t tfm__json_len(const tfm__json *v) {
    if (!v || (v->type != TFM__JSON_ARRAY && v->type != TFM__JSON_OBJECT)) return 0;
    return v->n;
}

const char *tfm__json_str(const tfm__json *v) {
    return v && v->type == TFM__JSON_STRING ? v->s : NULL;
}

int tfm__json_is(const tfm__json *v, tfm__json_type type) {
    return v && v->type == (uint8_t)type;
}

const char *tfm__json_type_name(const tfm__json *v) {
    if (!v) return "missing";
    switch (v->type) {
    case TFM__JSON_NULL: return "null";
    case TFM__JSON_BOOL: return "bool";
    case TFM__JSON_NUMBER: return "number";
    case TFM__JSON_STRING: return "string";
    case TFM__JSON_ARRAY: return "array";
    case TFM__JSON_OBJECT: return "object";
    }
    return "?";
}

// ---- config helpers ----------------------------------------------------------------

// Looks up a member for the helpers: 1 found (non-null), 0 missing/null.
static int member(const tfm__json *obj, const char *key, const tfm__json **v) {
    *v = tfm__json_get(obj, key);
    return *v && (*v)->type != TFM__JSON_NULL;
}

static tfm_status missing(tfm_ctx *ctx, const char *what, const char *key) {
    return tfm__err(ctx, TFM_ERR_NOT_FOUND, "%s: '%s': missing", what ? what : "json",
                    key ? key : "(null)");
}

static tfm_status wrong(tfm_ctx *ctx, const char *what, const char *key,
                        const char *want, const tfm__json *v) {
    const char *got;
    switch (v->type) {
    case TFM__JSON_BOOL: got = v->boolean ? "true" : "false"; break;
    case TFM__JSON_NUMBER: // only integers are refused
        if (!(v->num - v->num == 0)) got = "a non-finite number";
        else if (v->num > -9.2e18 && v->num < 9.2e18) got = "a non-integer number";
        else got = "a number out of the int64 range";
        break;
    case TFM__JSON_STRING: got = "a string"; break;
    case TFM__JSON_ARRAY: got = "an array"; break;
    case TFM__JSON_OBJECT: got = "an object"; break;
    default: got = "null"; break;
    }
    return tfm__err(ctx, TFM_ERR_FORMAT, "%s: '%s': expected %s, got %s",
                    what ? what : "json", key, want, got);
}

static tfm_status get_int(tfm_ctx *ctx, const tfm__json *obj, const char *what,
                          const char *key, int req, int64_t def, int64_t *out) {
    const tfm__json *v;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "json: out is NULL");
    *out = def;
    if (!member(obj, key, &v)) return req ? missing(ctx, what, key) : TFM_OK;
    if (v->type != TFM__JSON_NUMBER || !v->is_int)
        return wrong(ctx, what, key, "an integer", v);
    *out = v->i;
    return TFM_OK;
}

static tfm_status get_float(tfm_ctx *ctx, const tfm__json *obj, const char *what,
                            const char *key, int req, double def, double *out) {
    const tfm__json *v;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "json: out is NULL");
    *out = def;
    if (!member(obj, key, &v)) return req ? missing(ctx, what, key) : TFM_OK;
    if (v->type != TFM__JSON_NUMBER) return wrong(ctx, what, key, "a number", v);
    *out = v->num;
    return TFM_OK;
}

static tfm_status get_bool(tfm_ctx *ctx, const tfm__json *obj, const char *what,
                           const char *key, int req, int def, int *out) {
    const tfm__json *v;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "json: out is NULL");
    *out = def;
    if (!member(obj, key, &v)) return req ? missing(ctx, what, key) : TFM_OK;
    if (v->type != TFM__JSON_BOOL) return wrong(ctx, what, key, "true or false", v);
    *out = v->boolean;
    return TFM_OK;
}

static tfm_status get_string(tfm_ctx *ctx, const tfm__json *obj, const char *what,
                             const char *key, int req, const char *def,
                             const char **out) {
    const tfm__json *v;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "json: out is NULL");
    *out = def;
    if (!member(obj, key, &v)) return req ? missing(ctx, what, key) : TFM_OK;
    if (v->type != TFM__JSON_STRING) return wrong(ctx, what, key, "a string", v);
    *out = v->s;
    return TFM_OK;
}

tfm_status tfm__json_get_int(tfm_ctx *ctx, const tfm__json *obj, const char *what,
                             const char *key, int64_t def, int64_t *out) {
    return get_int(ctx, obj, what, key, 0, def, out);
}
tfm_status tfm__json_get_float(tfm_ctx *ctx, const tfm__json *obj, const char *what,
                               const char *key, double def, double *out) {
    return get_float(ctx, obj, what, key, 0, def, out);
}
tfm_status tfm__json_get_bool(tfm_ctx *ctx, const tfm__json *obj, const char *what,
                              const char *key, int def, int *out) {
    return get_bool(ctx, obj, what, key, 0, def, out);
}
tfm_status tfm__json_get_string(tfm_ctx *ctx, const tfm__json *obj,
                                const char *what, const char *key,
                                const char *def, const char **out) {
    return get_string(ctx, obj, what, key, 0, def, out);
}
tfm_status tfm__json_req_int(tfm_ctx *ctx, const tfm__json *obj, const char *what,
                             const char *key, int64_t *out) {
    return get_int(ctx, obj, what, key, 1, 0, out);
}
tfm_status tfm__json_req_float(tfm_ctx *ctx, const tfm__json *obj, const char *what,
                               const char *key, double *out) {
    return get_float(ctx, obj, what, key, 1, 0.0, out);
}
tfm_status tfm__json_req_bool(tfm_ctx *ctx, const tfm__json *obj, const char *what,
                              const char *key, int *out) {
    return get_bool(ctx, obj, what, key, 1, 0, out);
}
tfm_status tfm__json_req_string(tfm_ctx *ctx, const tfm__json *obj,
                                const char *what, const char *key,
                                const char **out) {
    return get_string(ctx, obj, what, key, 1, NULL, out);
}
