/*
 * Reading whole files (internal API), shared by the loaders that parse a
 * file from memory: JSON, safetensors without mmap, tokenizer files.
 */
#ifndef TFM_IO_FILE_H
#define TFM_IO_FILE_H

#include "../core/internal.h"

/* Reads the file at `path` into a new allocation of *size + 1 bytes with a
 * NUL appended (free with tfm__free(ctx, *data, *size + 1)). A file larger
 * than max_size bytes is TFM_ERR_RANGE; a file that does not exist
 * TFM_ERR_NOT_FOUND, other open and read failures TFM_ERR_IO.
 * Messages read "<what>: <path>: ...". On failure *data is NULL. */
tfm_status tfm__read_file(tfm_ctx *ctx, const char *path, size_t max_size,
                          const char *what, char **data, size_t *size);

/* The status of a failed open, fopen or stat from its errno: TFM_ERR_NOT_FOUND
 * when the file or a folder on its path does not exist (ENOENT, ENOTDIR),
 * else TFM_ERR_IO. */
tfm_status tfm__open_status(int err);

/* Whether `path` names a regular file (a folder or a missing path: 0). */
int tfm__file_exists(const char *path);

#endif /* TFM_IO_FILE_H */
