/*
 * Unicode queries over the generated tables (unicode_data.c).
 */
#include "unicode.h"

static const char *const g_cat_names[] = {
    "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
    "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs",
    "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};

const char *tfm__uni_cat_name(int cat) {
    if (cat < 0 || cat >= (int)(sizeof g_cat_names / sizeof g_cat_names[0]))
        return "??";
    return g_cat_names[cat];
}

static const tfm__uni_record *record(uint32_t cp) {
    if (cp > 0x10FFFF) return &tfm__uni_records[0];
    return &tfm__uni_records[tfm__uni_stage2[tfm__uni_stage1[cp >> 7]][cp & 127]];
}

int tfm__uni_cat(uint32_t cp) {
    return cp > 0x10FFFF ? TFM__UC_CN : record(cp)->cat;
}

uint32_t tfm__uni_lower(uint32_t cp) {
    if (cp > 0x10FFFF) return cp;
    return (uint32_t)((int32_t)cp + record(cp)->lower);
}

static const uint32_t *find_decomp(uint32_t cp) {
    size_t lo = 0, hi = tfm__uni_n_decomp;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tfm__uni_decomp[mid][0] < cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo < tfm__uni_n_decomp && tfm__uni_decomp[lo][0] == cp)
        return tfm__uni_decomp[lo];
    return NULL;
}

/* Hangul syllables decompose by arithmetic (Unicode 3.12). */
#define HANGUL_S 0xAC00u
#define HANGUL_L 0x1100u
#define HANGUL_V 0x1161u
#define HANGUL_T 0x11A7u
#define HANGUL_NV 21u
#define HANGUL_NT 28u
#define HANGUL_N (HANGUL_NV * HANGUL_NT)
#define HANGUL_COUNT (19u * HANGUL_N)

static int nfd_rec(uint32_t cp, uint32_t *out, int cap, int depth) {
    const uint32_t *d;
    int n;
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_COUNT) {
        uint32_t s = cp - HANGUL_S, t = s % HANGUL_NT;
        if (cap < 3) return 0;
        out[0] = HANGUL_L + s / HANGUL_N;
        out[1] = HANGUL_V + (s % HANGUL_N) / HANGUL_NT;
        if (t == 0) return 2;
        out[2] = HANGUL_T + t;
        return 3;
    }
    d = (cp < 0xC0 || depth > 8) ? NULL : find_decomp(cp);
    if (!d) {
        if (cap < 1) return 0;
        out[0] = cp;
        return 1;
    }
    n = nfd_rec(d[1], out, cap, depth + 1);
    if (d[2]) n += nfd_rec(d[2], out + n, cap - n, depth + 1);
    return n;
}

int tfm__uni_nfd(uint32_t cp, uint32_t *out, int cap) {
    return nfd_rec(cp, out, cap, 0);
}

int tfm__uni_is_letter(uint32_t cp) {
    int c = tfm__uni_cat(cp);
    return c >= TFM__UC_LU && c <= TFM__UC_LO;
}

int tfm__uni_is_number(uint32_t cp) {
    int c = tfm__uni_cat(cp);
    return c >= TFM__UC_ND && c <= TFM__UC_NO;
}

int tfm__uni_is_mark_nonspacing(uint32_t cp) {
    return tfm__uni_cat(cp) == TFM__UC_MN;
}

/* The White_Space property (PropList.txt), which \s matches. */
int tfm__uni_is_space(uint32_t cp) {
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    if (cp < 0x85) return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

int tfm__uni_bert_whitespace(uint32_t cp) {
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return 1;
    return tfm__uni_cat(cp) == TFM__UC_ZS;
}

int tfm__uni_bert_control(uint32_t cp) {
    int c;
    if (cp == '\t' || cp == '\n' || cp == '\r') return 0;
    c = tfm__uni_cat(cp);
    return c == TFM__UC_CC || c == TFM__UC_CF || c == TFM__UC_CO ||
           c == TFM__UC_CS;
}

int tfm__uni_bert_punct(uint32_t cp) {
    int c;
    /* Every ASCII non-letter, non-digit symbol counts, Sm/Sk/Sc included. */
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) ||
        (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return 1;
    c = tfm__uni_cat(cp);
    return c >= TFM__UC_PC && c <= TFM__UC_PO;
}

int tfm__uni_is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}
