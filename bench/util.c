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

char *bench_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? 2 * cap : 65536;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
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
