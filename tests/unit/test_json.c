/* JSON parser (src/io/json.c): DOM, numbers, strings, errors, limits, helpers. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "io/json.h"

#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

// Parses a string literal; the buffer is an exact-size malloc copy so a read
// past the end shows up under AddressSanitizer.
static tfm_status parse(tfm_ctx *ctx, const char *s, tfm__json_doc **doc) {
    size_t n = strlen(s);
    char *buf = (char *)malloc(n ? n : 1);
    tfm_status st;
    memcpy(buf, s, n);
    st = tfm__json_parse(ctx, buf, n, "test.json", NULL, doc);
    free(buf);
    return st;
}

TEST(json_object_keeps_order_and_types) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__json_doc *doc = NULL;
    const tfm__json *r, *v;
    size_t klen;
    REQUIRE_OK(ctx, parse(ctx,
        " {\"b\": 1, \"a\": [true, false, null, \"x\", 2.5, {}], \"c\": {\"d\": -3}} ",
        &doc));
    r = tfm__json_root(doc);
    CHECK(tfm__json_is(r, TFM__JSON_OBJECT));
    CHECK_EQ_INT(tfm__json_len(r), 3);
    CHECK_STR(tfm__json_key_at(r, 0, &klen), "b");
    CHECK_EQ_INT(klen, 1);
    CHECK_STR(tfm__json_key_at(r, 1, NULL), "a");
    CHECK_STR(tfm__json_key_at(r, 2, NULL), "c");
    CHECK(tfm__json_key_at(r, 3, NULL) == NULL);
    v = tfm__json_get(r, "a");
    CHECK(tfm__json_is(v, TFM__JSON_ARRAY));
    CHECK_EQ_INT(tfm__json_len(v), 6);
    CHECK(tfm__json_at(v, 0)->type == TFM__JSON_BOOL && tfm__json_at(v, 0)->boolean == 1);
    CHECK(tfm__json_at(v, 1)->type == TFM__JSON_BOOL && tfm__json_at(v, 1)->boolean == 0);
    CHECK(tfm__json_is(tfm__json_at(v, 2), TFM__JSON_NULL));
    CHECK_STR(tfm__json_str(tfm__json_at(v, 3)), "x");
    CHECK(tfm__json_at(v, 4)->num == 2.5 && !tfm__json_at(v, 4)->is_int);
    CHECK(tfm__json_is(tfm__json_at(v, 5), TFM__JSON_OBJECT));
    CHECK_EQ_INT(tfm__json_len(tfm__json_at(v, 5)), 0);
    CHECK(tfm__json_at(v, 6) == NULL);
    CHECK_EQ_INT(tfm__json_get(tfm__json_get(r, "c"), "d")->i, -3);
    CHECK(tfm__json_get(r, "zz") == NULL);
    CHECK(tfm__json_get(v, "a") == NULL);   // not an object
    CHECK(tfm__json_get(NULL, "a") == NULL);
    CHECK(tfm__json_at(tfm__json_at(v, 3), 0) == NULL);
    CHECK(tfm__json_str(tfm__json_at(v, 4)) == NULL);
    CHECK_STR(tfm__json_type_name(NULL), "missing");
    CHECK_STR(tfm__json_type_name(r), "object");
    tfm__json_free(doc);
    tfm__json_free(NULL);
    tfm_ctx_free(ctx);
}

TEST(json_scalars_at_top_level) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__json_doc *doc;
    REQUIRE_OK(ctx, parse(ctx, "\"hi\"", &doc));
    CHECK_STR(tfm__json_str(tfm__json_root(doc)), "hi");
    tfm__json_free(doc);
    REQUIRE_OK(ctx, parse(ctx, "\xEF\xBB\xBF 42\n", &doc)); // BOM skipped
    CHECK_EQ_INT(tfm__json_root(doc)->i, 42);
    tfm__json_free(doc);
    REQUIRE_OK(ctx, parse(ctx, "null", &doc));
    CHECK(tfm__json_is(tfm__json_root(doc), TFM__JSON_NULL));
    tfm__json_free(doc);
    tfm_ctx_free(ctx);
}

TEST(json_numbers) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__json_doc *doc;
    const tfm__json *r;
    REQUIRE_OK(ctx, parse(ctx,
        "[0, -0, 9007199254740993, 9223372036854775807, -9223372036854775808,"
        " 9223372036854775808, 1e3, 2.0, 1.5, -2.5e-3, 1E+2, 1e400, -1e400,"
        " 0.1, NaN, Infinity, -Infinity, 123456789012345678901234567890]", &doc));
    r = tfm__json_root(doc);
    CHECK(r->items[0].is_int && r->items[0].i == 0);
    CHECK(r->items[1].is_int && r->items[1].i == 0);
    CHECK(r->items[2].is_int && r->items[2].i == 9007199254740993LL); // exact
    CHECK(r->items[3].is_int && r->items[3].i == INT64_MAX);
    CHECK(r->items[4].is_int && r->items[4].i == INT64_MIN);
    CHECK(!r->items[5].is_int && r->items[5].num == 9223372036854775808.0);
    CHECK(r->items[6].is_int && r->items[6].i == 1000);
    CHECK(r->items[7].is_int && r->items[7].i == 2);
    CHECK(!r->items[8].is_int && r->items[8].num == 1.5);
    CHECK(r->items[9].num == -2.5e-3);
    CHECK(r->items[10].i == 100);
    CHECK(isinf(r->items[11].num) && r->items[11].num > 0 && !r->items[11].is_int);
    CHECK(isinf(r->items[12].num) && r->items[12].num < 0);
    CHECK(r->items[13].num == 0.1);
    CHECK(isnan(r->items[14].num) && !r->items[14].is_int);
    CHECK(isinf(r->items[15].num) && r->items[15].num > 0);
    CHECK(isinf(r->items[16].num) && r->items[16].num < 0);
    CHECK(!r->items[17].is_int && r->items[17].num > 1.2e29);
    tfm__json_free(doc);
    tfm_ctx_free(ctx);
}

TEST(json_strings_and_escapes) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__json_doc *doc;
    const tfm__json *r;
    REQUIRE_OK(ctx, parse(ctx,
        "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\", \"\\ud83d\\ude00\","
        " \"\\ud83d\", \"\\ude00x\", \"a\\u0000b\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
        " \"\\ud83dA\", \"\"]", &doc));
    r = tfm__json_root(doc);
    CHECK_STR(r->items[0].s, "a\"b\\c/d\b\f\n\r\t");
    CHECK_STR(r->items[1].s, "\xc3\xa9\xe2\x82\xac");
    CHECK_STR(r->items[2].s, "\xf0\x9f\x98\x80");
    CHECK_STR(r->items[3].s, "\xef\xbf\xbd");      // lone high surrogate
    CHECK_STR(r->items[4].s, "\xef\xbf\xbdx");     // lone low surrogate
    CHECK_EQ_INT(r->items[5].n, 3);
    CHECK(memcmp(r->items[5].s, "a\0b", 4) == 0);
    CHECK_STR(r->items[6].s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK_STR(r->items[7].s, "\xef\xbf\xbd" "A");
    CHECK_STR(r->items[8].s, "");
    CHECK_EQ_INT(r->items[8].n, 0);
    tfm__json_free(doc);
    tfm_ctx_free(ctx);
}

TEST(json_duplicate_keys_last_wins) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__json_doc *doc;
    const tfm__json *r;
    char big[2048];
    size_t n = 0;
    int i;
    REQUIRE_OK(ctx, parse(ctx, "{\"k\": 1, \"j\": 2, \"k\": 3}", &doc));
    r = tfm__json_root(doc);
    CHECK_EQ_INT(tfm__json_len(r), 3);
    CHECK_EQ_INT(tfm__json_get(r, "k")->i, 3);
    CHECK_EQ_INT(tfm__json_at(r, 0)->i, 1);
    tfm__json_free(doc);
    // A big object takes the hashed path.
    n += (size_t)snprintf(big + n, sizeof big - n, "{");
    for (i = 0; i < 100; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "\"key%d\": %d, ", i, i);
    n += (size_t)snprintf(big + n, sizeof big - n, "\"key7\": 700}");
    REQUIRE_OK(ctx, parse(ctx, big, &doc));
    r = tfm__json_root(doc);
    CHECK(r->hash != NULL);
    CHECK_EQ_INT(tfm__json_len(r), 101);
    for (i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof key, "key%d", i);
        CHECK_EQ_INT(tfm__json_get(r, key)->i, i == 7 ? 700 : i);
    }
    CHECK(tfm__json_get(r, "key100") == NULL);
    CHECK(tfm__json_get(r, "") == NULL);
    CHECK(tfm__json_getn(r, "key12", 4)->i == 1);
    tfm__json_free(doc);
    tfm_ctx_free(ctx);
}

typedef struct bad_case {
    const char *text;
    tfm_status status;
    const char *msg; // fragment of the message
} bad_case;

TEST(json_malformed_inputs_report_position) {
    static const bad_case cases[] = {
        {"", TFM_ERR_FORMAT, "line 1, column 1 (byte 0): expected a value, found end of input"},
        {"   ", TFM_ERR_FORMAT, "expected a value"},
        {"{", TFM_ERR_FORMAT, "expected a string key"},
        {"{\"a\" 1}", TFM_ERR_FORMAT, "(byte 5): expected ':' after key, found '1'"},
        {"{\"a\":1,}", TFM_ERR_FORMAT, "expected a string key in object, found '}'"},
        {"{\"a\":1 \"b\":2}", TFM_ERR_FORMAT, "expected ',' or '}' in object"},
        {"[1,]", TFM_ERR_FORMAT, "(byte 3): expected a value, found ']'"},
        {"[1 2]", TFM_ERR_FORMAT, "expected ',' or ']' in array, found '2'"},
        {"[1,\n 2,\n x]", TFM_ERR_FORMAT, "line 3, column 2 (byte 9): expected a value, found 'x'"},
        {"{1:2}", TFM_ERR_FORMAT, "expected a string key"},
        {"\"abc", TFM_ERR_FORMAT, "(byte 0): unterminated string"},
        {"\"abc\\", TFM_ERR_FORMAT, "unterminated string"},
        {"\"a\\qb\"", TFM_ERR_FORMAT, "(byte 2): invalid escape"},
        {"\"\\u12\"", TFM_ERR_FORMAT, "invalid \\u escape"},
        {"\"\\u12G4\"", TFM_ERR_FORMAT, "invalid \\u escape"},
        {"\"a\tb\"", TFM_ERR_FORMAT, "control character in string"},
        {"\"\xff\"", TFM_ERR_FORMAT, "(byte 1): invalid UTF-8 in string, found byte 0xff"},
        {"\"\xc0\xaf\"", TFM_ERR_FORMAT, "invalid UTF-8"},          // overlong
        {"\"\xed\xa0\x80\"", TFM_ERR_FORMAT, "invalid UTF-8"},      // surrogate
        {"\"\xf4\x90\x80\x80\"", TFM_ERR_FORMAT, "invalid UTF-8"},  // > U+10FFFF
        {"\"\xe2\x82\"", TFM_ERR_FORMAT, "invalid UTF-8"},          // truncated
        {"01", TFM_ERR_FORMAT, "leading zero"},
        {"-", TFM_ERR_FORMAT, "expected a digit"},
        {"1.", TFM_ERR_FORMAT, "expected a digit after '.'"},
        {"1.e5", TFM_ERR_FORMAT, "expected a digit after '.'"},
        {"1e", TFM_ERR_FORMAT, "exponent"},
        {"1e+", TFM_ERR_FORMAT, "exponent"},
        {"+1", TFM_ERR_FORMAT, "expected a value"},
        {".5", TFM_ERR_FORMAT, "expected a value"},
        {"tru", TFM_ERR_FORMAT, "expected a value"},
        {"nul", TFM_ERR_FORMAT, "expected a value"},
        {"Nan", TFM_ERR_FORMAT, "expected a value"},
        {"-Inf", TFM_ERR_FORMAT, "invalid number"},
        {"1 2", TFM_ERR_FORMAT, "(byte 2): unexpected data after the value, found '2'"},
        {"{} x", TFM_ERR_FORMAT, "unexpected data after the value"},
        {"[\"a\"]\x01", TFM_ERR_FORMAT, "found byte 0x01"},
    };
    tfm_ctx *ctx = tfmt_ctx(1);
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tfm__json_doc *doc = (tfm__json_doc *)1;
        tfm_status st = parse(ctx, cases[i].text, &doc);
        if (st != cases[i].status)
            tfmt_fail(__FILE__, __LINE__, "case %zu (%s): got %s", i, cases[i].text,
                      tfm_status_str(st));
        CHECK(doc == NULL);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), cases[i].msg);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "json: test.json: ");
    }
    tfm_ctx_free(ctx);
}

TEST(json_embedded_nul_in_text_is_an_error) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__json_doc *doc;
    CHECK_STATUS(tfm__json_parse(ctx, "[1]\0", 4, NULL, NULL, &doc), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "json: input: line 1, column 4 (byte 3)");
    CHECK_STATUS(tfm__json_parse(ctx, "\"a\0b\"", 5, NULL, NULL, &doc), TFM_ERR_FORMAT);
    CHECK_STATUS(tfm__json_parse(ctx, "[1, 2]", 3, NULL, NULL, &doc), TFM_ERR_FORMAT);
    CHECK_STATUS(tfm__json_parse(ctx, NULL, 3, NULL, NULL, &doc), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm__json_parse(ctx, "1", 1, NULL, NULL, NULL), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm__json_parse(ctx, NULL, 0, NULL, NULL, &doc), TFM_ERR_FORMAT);
    tfm_ctx_free(ctx);
}

TEST(json_depth_and_size_limits) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__json_doc *doc;
    tfm__json_limits lim = tfm__json_limits_default();
    char *deep = (char *)malloc(4000);
    int i;
    for (i = 0; i < 256; i++) deep[i] = '[';
    for (i = 0; i < 256; i++) deep[256 + i] = ']';
    CHECK_OK(ctx, tfm__json_parse(ctx, deep, 512, NULL, NULL, &doc));
    tfm__json_free(doc);
    for (i = 0; i < 2000; i++) deep[i] = '[';
    CHECK_STATUS(tfm__json_parse(ctx, deep, 2000, "deep.json", NULL, &doc), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "json: deep.json: nesting depth past the limit of 256");
    lim.max_depth = 2;
    CHECK_STATUS(tfm__json_parse(ctx, "[{\"a\":[1]}]", 11, NULL, &lim, &doc), TFM_ERR_RANGE);
    CHECK_OK(ctx, tfm__json_parse(ctx, "[[], {\"a\":1}]", 13, NULL, &lim, &doc));
    tfm__json_free(doc);
    lim = tfm__json_limits_default();
    lim.max_size = 4;
    CHECK_STATUS(tfm__json_parse(ctx, "[1,2]", 5, NULL, &lim, &doc), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "5 bytes past the limit of 4");
    lim = tfm__json_limits_default();
    lim.max_memory = 100000;
    for (i = 0; i < 3999; i++) deep[i] = i % 2 ? '0' : ',';
    deep[0] = '[';
    deep[3998] = ']';
    CHECK_STATUS(tfm__json_parse(ctx, deep, 3999, NULL, &lim, &doc), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "memory for the tree");
    free(deep);
    tfm_ctx_free(ctx);
}

TEST(json_config_helpers) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__json_doc *doc;
    const tfm__json *r;
    int64_t iv;
    double dv;
    int bv;
    const char *sv;
    REQUIRE_OK(ctx, parse(ctx,
        "{\"hidden_size\": 768, \"eps\": 1e-12, \"f\": 3.0, \"half\": 0.5,"
        " \"tie\": true, \"act\": \"gelu\", \"nothing\": null, \"arr\": [1], \"big\": 1e30}",
        &doc));
    r = tfm__json_root(doc);
    CHECK_OK(ctx, tfm__json_get_int(ctx, r, "config.json", "hidden_size", 0, &iv));
    CHECK_EQ_INT(iv, 768);
    CHECK_OK(ctx, tfm__json_get_int(ctx, r, "config.json", "f", 0, &iv));
    CHECK_EQ_INT(iv, 3);
    CHECK_OK(ctx, tfm__json_get_int(ctx, r, "config.json", "absent", 12, &iv));
    CHECK_EQ_INT(iv, 12);
    CHECK_OK(ctx, tfm__json_get_int(ctx, r, "config.json", "nothing", 5, &iv));
    CHECK_EQ_INT(iv, 5);
    CHECK_STATUS(tfm__json_get_int(ctx, r, "config.json", "act", 0, &iv), TFM_ERR_FORMAT);
    CHECK_STR(tfm_ctx_last_error(ctx), "config.json: 'act': expected an integer, got a string");
    CHECK_STATUS(tfm__json_get_int(ctx, r, "config.json", "half", 0, &iv), TFM_ERR_FORMAT);
    CHECK_STR(tfm_ctx_last_error(ctx), "config.json: 'half': expected an integer, got a non-integer number");
    CHECK_STATUS(tfm__json_get_int(ctx, r, "config.json", "big", 0, &iv), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "out of the int64 range");
    CHECK_STATUS(tfm__json_req_int(ctx, r, "config.json", "vocab_size", &iv), TFM_ERR_NOT_FOUND);
    CHECK_STR(tfm_ctx_last_error(ctx), "config.json: 'vocab_size': missing");
    CHECK_OK(ctx, tfm__json_get_float(ctx, r, "config.json", "eps", 0, &dv));
    CHECK(dv == 1e-12);
    CHECK_OK(ctx, tfm__json_req_float(ctx, r, "config.json", "hidden_size", &dv));
    CHECK(dv == 768.0);
    CHECK_STATUS(tfm__json_get_float(ctx, r, "config.json", "arr", 0, &dv), TFM_ERR_FORMAT);
    CHECK_STR(tfm_ctx_last_error(ctx), "config.json: 'arr': expected a number, got an array");
    CHECK_OK(ctx, tfm__json_get_bool(ctx, r, "config.json", "tie", 0, &bv));
    CHECK_EQ_INT(bv, 1);
    CHECK_OK(ctx, tfm__json_get_bool(ctx, r, "config.json", "absent", 1, &bv));
    CHECK_EQ_INT(bv, 1);
    CHECK_STATUS(tfm__json_req_bool(ctx, r, "config.json", "eps", &bv), TFM_ERR_FORMAT);
    CHECK_STR(tfm_ctx_last_error(ctx), "config.json: 'eps': expected true or false, got a non-integer number");
    CHECK_OK(ctx, tfm__json_get_string(ctx, r, "config.json", "act", "relu", &sv));
    CHECK_STR(sv, "gelu");
    CHECK_OK(ctx, tfm__json_get_string(ctx, r, "config.json", "absent", "relu", &sv));
    CHECK_STR(sv, "relu");
    CHECK_OK(ctx, tfm__json_req_string(ctx, r, "config.json", "act", &sv));
    CHECK_STATUS(tfm__json_req_string(ctx, r, NULL, "tie", &sv), TFM_ERR_FORMAT);
    CHECK_STR(tfm_ctx_last_error(ctx), "json: 'tie': expected a string, got true");
    CHECK(sv == NULL);
    // Not an object: everything is missing.
    CHECK_OK(ctx, tfm__json_get_int(ctx, tfm__json_get(r, "arr"), "c", "x", 9, &iv));
    CHECK_EQ_INT(iv, 9);
    CHECK_STATUS(tfm__json_get_int(ctx, r, "c", "x", 0, NULL), TFM_ERR_INVALID_ARG);
    tfm__json_free(doc);
    tfm_ctx_free(ctx);
}

TEST(json_parse_file) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__json_doc *doc;
    char path[] = "/tmp/tfm_json_XXXXXX";
    int fd = mkstemp(path);
    const char *text = "{\"model_type\": \"bert\",\n \"layers\": 2\n";
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    CHECK_STATUS(tfm__json_parse_file(ctx, path, NULL, &doc), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), path);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "line 3, column 1");
    fd = open(path, O_WRONLY | O_TRUNC);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    REQUIRE(write(fd, "}", 1) == 1);
    close(fd);
    REQUIRE_OK(ctx, tfm__json_parse_file(ctx, path, NULL, &doc));
    CHECK_STR(tfm__json_str(tfm__json_get(tfm__json_root(doc), "model_type")), "bert");
    tfm__json_free(doc);
    unlink(path);
    CHECK_STATUS(tfm__json_parse_file(ctx, "/nonexistent/x.json", NULL, &doc), TFM_ERR_NOT_FOUND);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "/nonexistent/x.json: cannot open");
    CHECK(doc == NULL);
    tfm_ctx_free(ctx);
}

static tfm_status json_oom_scenario(const tfm_ctx_params *params, void *arg) {
    tfm_ctx *ctx;
    tfm__json_doc *doc = NULL;
    tfm_status st = tfm_ctx_create(params, &ctx);
    const char *text = (const char *)arg;
    if (st != TFM_OK) return st;
    st = tfm__json_parse(ctx, text, strlen(text), NULL, NULL, &doc);
    tfm__json_free(doc);
    tfm_ctx_free(ctx);
    return st;
}

TEST(json_allocation_failures) {
    static char text[8192];
    size_t n = 0;
    int i;
    n += (size_t)snprintf(text + n, sizeof text - n, "{\"list\": [");
    for (i = 0; i < 300; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"k%d\": \"v\\u00e9%d\"}",
                              i ? "," : "", i, i);
    n += (size_t)snprintf(text + n, sizeof text - n, "], \"x\": 1.25e-3}");
    CHECK(OOM_WALK(json_oom_scenario, text) > 3);
}
