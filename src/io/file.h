/*
 * Reading and mapping whole files (internal API), shared by the loaders that
 * parse a file from memory: JSON and tokenizer files are read, safetensors
 * files and llama2.c checkpoints mapped.
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

/* How tfm__file_map brings a file into memory. Where mmap is unavailable,
 * every mode reads. */
typedef enum tfm__file_mode {
    TFM__FILE_READ = 0,        /* read into an allocation through ctx */
    TFM__FILE_MMAP = 1,        /* mmap, read-only; a failed mmap is TFM_ERR_IO */
    TFM__FILE_MMAP_OR_READ = 2 /* mmap, or read when mmap fails */
} tfm__file_mode;

/* Brings the whole file at `path` into memory as `mode` says: the image is
 * *data, *size bytes, mapped (*mapped 1) or read into an allocation through
 * ctx (*mapped 0); give all three to tfm__file_unmap. An empty file succeeds
 * with *data NULL and *size 0. A file that does not exist is
 * TFM_ERR_NOT_FOUND; a mapping needs a regular file of at most SIZE_MAX / 2
 * bytes (else TFM_ERR_IO); other open, read and mmap failures are
 * TFM_ERR_IO, a failed allocation TFM_ERR_NOMEM. Messages read
 * "<what>: <path>: ...", or "<path>: ..." when what is NULL. On failure
 * *data is NULL. */
tfm_status tfm__file_map(tfm_ctx *ctx, const char *path, const char *what,
                         tfm__file_mode mode, void **data, size_t *size, int *mapped);

/* Releases an image from tfm__file_map: munmap when mapped, else frees it
 * through ctx. NULL data is a no-op. */
void tfm__file_unmap(tfm_ctx *ctx, void *data, size_t size, int mapped);

#endif /* TFM_IO_FILE_H */
