/*
 * A map of pieces to ids read from a vocab.json (a JSON object
 * {piece: id}), as Marian folders carry one for both of their SentencePiece
 * models: the id of a piece, the piece of an id, and Marian's decoding of
 * ids into text (pieces.c). Filled once by tfm__pieces_load and only read
 * afterwards, so it may be shared by threads.
 *
 * Legend: V = ids of the map ([0, V)), n = ids of one text.
 */
#ifndef TFM_TEXT_PIECES_H
#define TFM_TEXT_PIECES_H

#include "../core/internal.h"

typedef struct tfm__pieces tfm__pieces;

/* Reads the vocab.json at `path` for the ids [0, V) (V >= 1). Every value
 * must be an integer in that range (TFM_ERR_FORMAT otherwise); when several
 * pieces have one id the first wins, and an id no piece has stays without
 * one.
 * Syntax errors are the JSON parser's; the other messages start with
 * "<what>: " and name the path. *out NULL on failure; free with
 * tfm__pieces_free. */
tfm_status tfm__pieces_load(tfm_ctx *ctx, const char *path, int32_t V, const char *what,
                            tfm__pieces **out);
/* Frees p with the ctx it was loaded with; NULL is a no-op. */
void tfm__pieces_free(tfm__pieces *p);
/* The id of the piece s[0, len), -1 when absent. */
int32_t tfm__pieces_find(const tfm__pieces *p, const char *s, size_t len);
/* The piece of `id` (NUL-terminated, owned by p), NULL when the id is
 * outside [0, V) or has no piece. */
const char *tfm__pieces_get(const tfm__pieces *p, int32_t id);
/* Decodes ids[0, n) as MarianTokenizer.decode(skip_special_tokens=True):
 * their pieces joined, with pad, eos, unk (-1: none) and ids without a
 * piece left out, U+2581 made a space and the leading space dropped.
 * *out allocated with ctx (strlen + 1 bytes), NULL on failure; the message
 * reads "<what>: out of memory decoding". */
tfm_status tfm__pieces_decode(tfm_ctx *ctx, const tfm__pieces *p, const int32_t *ids,
                              int32_t n, int32_t pad, int32_t eos, int32_t unk,
                              const char *what, char **out);

#endif /* TFM_TEXT_PIECES_H */
