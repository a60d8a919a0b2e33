/* util.c - the file operations the harness needs to never lose a good file:
 * replace-by-rename, directory creation, symlink swaps, whole-file reads;
 * a string hash; and finding the files that ship beside the program. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bench_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(buf, &st) || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int bench_write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int saved, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        return -1;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto out_unlink;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd))
        goto out_unlink;
    if (close(fd)) {
        fd = -1;
        goto out_unlink;
    }
    if (rename(tmp, path)) {
        fd = -1;
        goto out_unlink;
    }
    return 0;

out_unlink:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = saved;
    return -1;
}

int bench_symlink_replace(const char *target, const char *link)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", link, (long)getpid()) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    unlink(tmp);
    if (symlink(target, tmp))
        return -1;
    if (rename(tmp, link)) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* Every input file goes through here, so one place bounds them: a sweep
 * file or a --resume/--estimate-from CSV pointed at /dev/zero, a FIFO or a
 * huge file would otherwise grow memory until the machine runs out (or
 * block forever on a FIFO). O_NONBLOCK so that opening a FIFO without a
 * writer returns at once; fstat then refuses it. The read stops one byte
 * past the limit, so a file that grows while read (or a /proc-like file
 * reporting size 0) is bounded too. */
char *bench_read_file(const char *path, size_t *len)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    struct stat st;
    int e, fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st)) {
        e = errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        e = ESPIPE;
        goto fail;
    }
    if ((uint64_t)st.st_size > BENCH_READ_MAX) {
        e = EFBIG;
        goto fail;
    }
    for (;;) {
        if (cap - n < 4096 && cap < BENCH_READ_MAX + 1) {
            size_t nc = cap ? 2 * cap : 65536;
            if (nc > BENCH_READ_MAX + 1)
                nc = BENCH_READ_MAX + 1; /* n <= BENCH_READ_MAX here, so room stays */
            char *nb = realloc(buf, nc + 1);
            if (!nb) {
                e = ENOMEM;
                goto fail;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = EIO;
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > BENCH_READ_MAX) {
            e = EFBIG;
            goto fail;
        }
    }
    close(fd);
    if (!buf && !(buf = malloc(1))) {
        errno = ENOMEM;
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;

fail:
    free(buf);
    close(fd);
    errno = e;
    return NULL;
}

const char *bench_read_strerror(int e)
{
    if (e == ESPIPE)
        return "not a regular file (a FIFO, device or directory); give a file";
    if (e == EFBIG)
        return "larger than " BENCH_READ_MAX_STR ", the most sparsebench reads from one file";
    return strerror(e);
}

uint64_t bench_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int bench_find_beside_exe(const char *env, const char *const *rel, size_t n, char *buf, size_t len)
{
    const char *over = getenv(env);
    char exe[PATH_MAX];
    if (over && *over) {
        snprintf(buf, len, "%s", over);
        return access(buf, X_OK);
    }
    ssize_t got = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (got <= 0)
        return -1;
    exe[got] = '\0';
    const char *dir = dirname(exe);
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof(p), "%s%s", dir, rel[i]);
        if (access(p, X_OK) == 0 && realpath(p, exe)) {
            snprintf(buf, len, "%s", exe);
            return 0;
        }
    }
    return -1;
}
