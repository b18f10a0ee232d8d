/*
 * Whole-file reads through the ctx allocator, and whole-file mappings that
 * fall back to such reads (see file.h).
 */
#define _POSIX_C_SOURCE 200112L
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__unix__) || defined(__APPLE__)
#  include <fcntl.h>
#  include <sys/mman.h>
#  include <unistd.h>
#  define TFM__HAVE_MMAP 1
#endif

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

tfm_status tfm__file_map(tfm_ctx *ctx, const char *path, const char *what,
                         tfm__file_mode mode, void **data, size_t *size, int *mapped) {
    char who[TFM__ERRMSG_SIZE]; // "<what>: <path>" or "<path>", to start messages
    FILE *f;
    long len;
    void *buf;
    *data = NULL;
    *size = 0;
    *mapped = 0;
    snprintf(who, sizeof who, "%s%s%s", what ? what : "", what ? ": " : "", path);
#ifdef TFM__HAVE_MMAP
    if (mode != TFM__FILE_READ) {
        struct stat stt;
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            return tfm__err(ctx, tfm__open_status(errno), "%s: cannot open: %s", who,
                            strerror(errno));
        if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
            close(fd);
            return tfm__err(ctx, TFM_ERR_IO, "%s: not a regular file", who);
        }
        if (stt.st_size == 0) { // nothing to map
            close(fd);
            return TFM_OK;
        }
        if ((uint64_t)stt.st_size > (uint64_t)SIZE_MAX / 2) { // past PTRDIFF_MAX
            close(fd);
            return tfm__err(ctx, TFM_ERR_IO, "%s: too large to map", who);
        }
        buf = mmap(NULL, (size_t)stt.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (buf != MAP_FAILED) {
            *data = buf;
            *size = (size_t)stt.st_size;
            *mapped = 1;
            return TFM_OK;
        }
        if (mode == TFM__FILE_MMAP)
            return tfm__err(ctx, TFM_ERR_IO, "%s: mmap failed: %s", who, strerror(errno));
    }
#else
    (void)mode;
#endif
    f = fopen(path, "rb");
    if (!f)
        return tfm__err(ctx, tfm__open_status(errno), "%s: cannot open: %s", who,
                        strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return tfm__err(ctx, TFM_ERR_IO, "%s: cannot read its size", who);
    }
    if (len == 0) {
        fclose(f);
        return TFM_OK;
    }
    buf = tfm__alloc_nozero(ctx, (size_t)len);
    if (!buf) {
        fclose(f);
        return tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory reading %ld bytes", who, len);
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        tfm__free(ctx, buf, (size_t)len);
        return tfm__err(ctx, TFM_ERR_IO, "%s: read failed", who);
    }
    fclose(f);
    *data = buf;
    *size = (size_t)len;
    return TFM_OK;
}

void tfm__file_unmap(tfm_ctx *ctx, void *data, size_t size, int mapped) {
    if (!data) return;
#ifdef TFM__HAVE_MMAP
    if (mapped) {
        munmap(data, size);
        return;
    }
#endif
    (void)mapped;
    tfm__free(ctx, data, size);
}
