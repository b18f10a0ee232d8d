/*
 * The tfm command-line tool: one function per subcommand.
 * Exit codes: 0 success, 1 usage error, 2 runtime error (message on stderr).
 */
#ifndef TFM_TOOL_H
#define TFM_TOOL_H

#include "transformer.h"

#include <stdio.h>

#define TFM_EXIT_OK 0
#define TFM_EXIT_USAGE 1
#define TFM_EXIT_RUNTIME 2

typedef struct tfm_cmd {
    const char *name;
    int (*run)(int argc, char **argv); // argv[0] is the subcommand name
    const char *summary;
} tfm_cmd;

int cmd_info(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_fill_mask(int argc, char **argv); // cmd_bert.c
int cmd_embed(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_tokenize(int argc, char **argv); // cmd_tokenize.c
int cmd_translate(int argc, char **argv); // cmd_translate.c
int cmd_quantize(int argc, char **argv);  // cmd_quantize.c

/* Prints "tfm: <msg>" to stderr and returns TFM_EXIT_USAGE. */
int tool_usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Prints "tfm: <what>: <status>: <ctx message>" and returns TFM_EXIT_RUNTIME. */
int tool_runtime_error(tfm_ctx *ctx, tfm_status st, const char *what);
/* Writes s as a JSON string literal (quotes and escapes) to f. */
void tool_json_string(FILE *f, const char *s);
/* Parses "--threads N" style integer options; returns 0 on a bad value. */
int tool_parse_int(const char *s, long lo, long hi, long *out);
/* Parses a --weights value (stored, f32, f16, bf16, q8, q4) into a
 * tfm_weights; returns 0 on a name it does not know. */
int tool_parse_weights(const char *s, int32_t *out);
#define TOOL_WEIGHTS_CHOICES "stored, f32, f16, bf16, q8 or q4"
/* Default thread count: $TFM_THREADS, else the number of online CPUs. */
int tool_default_threads(void);

#endif
