/* Unicode tables (generated from UnicodeData.txt) and the strict UTF-8 decoder. */
#include "harness.h"
#include "text/unicode.h"

TEST(text_unicode_categories_and_mappings) {
    uint32_t d[8];
    int n;
    CHECK_STR(tfm__uni_cat_name(tfm__uni_cat('A')), "Lu");
    CHECK_STR(tfm__uni_cat_name(tfm__uni_cat(0x4E2D)), "Lo");       /* CJK range entry */
    CHECK_STR(tfm__uni_cat_name(tfm__uni_cat(0xAC00)), "Lo");       /* Hangul range */
    CHECK_STR(tfm__uni_cat_name(tfm__uni_cat(0x301)), "Mn");
    CHECK_STR(tfm__uni_cat_name(tfm__uni_cat(0xAD)), "Cf");
    CHECK_STR(tfm__uni_cat_name(tfm__uni_cat(0xF0000)), "Co");      /* plane 15 range */
    CHECK_STR(tfm__uni_cat_name(tfm__uni_cat(0xFFFE)), "Cn");
    CHECK_STR(tfm__uni_cat_name(tfm__uni_cat(0x110000)), "Cn");
    CHECK_EQ_INT(tfm__uni_lower('A'), 'a');
    CHECK_EQ_INT(tfm__uni_lower(0xC9), 0xE9);
    CHECK_EQ_INT(tfm__uni_lower(0x3A3), 0x3C3);
    CHECK_EQ_INT(tfm__uni_lower(0xDF), 0xDF);
    CHECK_EQ_INT(tfm__uni_lower('1'), '1');
    n = tfm__uni_nfd(0xE9, d, 8);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(d[0], 'e');
    CHECK_EQ_INT(d[1], 0x301);
    n = tfm__uni_nfd(0x1EC7, d, 8); /* e with circumflex and dot below: recursive */
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(d[0], 'e');
    n = tfm__uni_nfd(0xD55C, d, 8); /* Hangul syllable with a final consonant */
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(d[0], 0x1112);
    CHECK_EQ_INT(d[1], 0x1161);
    CHECK_EQ_INT(d[2], 0x11AB);
    CHECK_EQ_INT(tfm__uni_nfd('x', d, 8), 1);
    CHECK(tfm__uni_is_letter(0x5D0) && !tfm__uni_is_letter('1'));
    CHECK(tfm__uni_is_number(0x661) && tfm__uni_is_number(0xB2) && !tfm__uni_is_number('x'));
    CHECK(tfm__uni_is_space(0x3000) && tfm__uni_is_space(0x85) && !tfm__uni_is_space(0x200B));
    CHECK(tfm__uni_bert_whitespace(0xA0) && !tfm__uni_bert_whitespace(0x85));
    CHECK(tfm__uni_bert_control(0x85) && tfm__uni_bert_control(0x200B) &&
          !tfm__uni_bert_control('\n'));
    CHECK(tfm__uni_bert_punct('$') && tfm__uni_bert_punct('`') && tfm__uni_bert_punct(0x3002) &&
          !tfm__uni_bert_punct(0x2212) && !tfm__uni_bert_punct('a'));
    CHECK(tfm__uni_is_cjk(0x4E2D) && tfm__uni_is_cjk(0x2A6D6) && !tfm__uni_is_cjk(0x3042));
}

TEST(text_utf8_strict) {
    const unsigned char ok[] = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";
    uint32_t cp;
    char buf[4];
    CHECK_EQ_INT(tfm__utf8_validate((const char *)ok, sizeof ok - 1), sizeof ok - 1);
    CHECK_EQ_INT(tfm__utf8_decode(ok, sizeof ok - 1, 6, &cp), 4);
    CHECK_EQ_INT(cp, 0x1F600);
    CHECK_EQ_INT(tfm__utf8_validate("ab\xC0\x80", 4), 2);      /* overlong NUL */
    CHECK_EQ_INT(tfm__utf8_validate("\xE0\x80\xAF", 3), 0);    /* overlong 3-byte */
    CHECK_EQ_INT(tfm__utf8_validate("\xF0\x8F\xBF\xBF", 4), 0);/* overlong 4-byte */
    CHECK_EQ_INT(tfm__utf8_validate("x\xED\xB0\x80", 4), 1);   /* surrogate */
    CHECK_EQ_INT(tfm__utf8_validate("\xF4\x90\x80\x80", 4), 0);/* > U+10FFFF */
    CHECK_EQ_INT(tfm__utf8_validate("xy\xF0\x9F\x98", 5), 2);  /* truncated */
    CHECK_EQ_INT(tfm__utf8_validate("\x80", 1), 0);            /* stray continuation */
    CHECK_EQ_INT(tfm__utf8_validate("\xC3(", 2), 0);           /* bad continuation */
    CHECK_EQ_INT(tfm__utf8_validate("\xFF", 1), 0);
    CHECK_EQ_INT(tfm__utf8_validate("", 0), 0);
    CHECK_EQ_INT(tfm__utf8_encode(0x10FFFF, buf), 4);
    CHECK_EQ_INT(tfm__utf8_validate(buf, 4), 4);
    CHECK_EQ_INT(tfm__utf8_encode(0x7FF, buf), 2);
    CHECK_EQ_INT((unsigned char)buf[0], 0xDF);
}
