/*
 * Whole-file reads through the ctx allocator (see file.h).
 */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

tfm_status tfm__open_status(int err) {
    return err == ENOENT || err == ENOTDIR ? TFM_ERR_NOT_FOUND : TFM_ERR_IO;
}

int tfm__file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

tfm_status tfm__read_file(tfm_ctx *ctx, const char *path, size_t max_size,
                          const char *what, char **data, size_t *size) {
    FILE *f;
    long n;
    char *buf;
    *data = NULL;
    *size = 0;
    f = fopen(path, "rb");
    if (!f)
        return tfm__err(ctx, tfm__open_status(errno), "%s: %s: cannot open: %s", what, path,
                        strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return tfm__err(ctx, TFM_ERR_IO, "%s: %s: cannot read", what, path);
    }
    if ((unsigned long)n > max_size) {
        fclose(f);
        return tfm__err(ctx, TFM_ERR_RANGE, "%s: %s: %ld bytes past the limit of %zu", what,
                        path, n, max_size);
    }
    buf = (char *)tfm__alloc_nozero(ctx, (size_t)n + 1);
    if (!buf) {
        fclose(f);
        return tfm__err(ctx, TFM_ERR_NOMEM, "%s: %s: out of memory reading %ld bytes", what,
                        path, n);
    }
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        tfm__free(ctx, buf, (size_t)n + 1);
        return tfm__err(ctx, TFM_ERR_IO, "%s: %s: short read", what, path);
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    *size = (size_t)n;
    return TFM_OK;
}
