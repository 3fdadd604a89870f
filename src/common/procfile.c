#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct procfile *all;

int path_join(char *out, size_t outlen, const char *root, const char *rel)
{
    size_t rl = strlen(root);
    int n;

    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    while (*rel == '/')
        rel++;
    if (rl == 1 && root[0] == '/')
        n = snprintf(out, outlen, "/%s", rel);
    else
        n = snprintf(out, outlen, "%.*s/%s", (int)rl, root, rel);
    if (n < 0 || (size_t)n >= outlen)
        return -ENAMETOOLONG;
    return 0;
}

int procfile_open(const char *root, const char *rel, struct procfile **ret_pf)
{
    char path[4096];
    struct procfile *pf;
    size_t plen;
    int fd, r;

    r = path_join(path, sizeof(path), root, rel);
    if (r < 0)
        return r;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    plen = strlen(path);
    pf = calloc(1, sizeof(*pf) + plen + 1);
    if (!pf) {
        close(fd);
        return -ENOMEM;
    }
    memcpy(pf->path, path, plen + 1);
    pf->fd = fd;
    pf->cap = 4096;
    pf->buf = malloc(pf->cap);
    if (!pf->buf) {
        close(fd);
        free(pf);
        return -ENOMEM;
    }
    pf->buf[0] = '\0';
    pthread_mutex_lock(&all_lock);
    pf->next = all;
    if (all)
        all->prev = pf;
    all = pf;
    pthread_mutex_unlock(&all_lock);
    *ret_pf = pf;
    return 0;
}

long procfile_read(struct procfile *pf)
{
    size_t len = 0;

    pf->reads++;
    for (;;) {
        ssize_t n;

        if (len + 1 >= pf->cap) {
            size_t ncap = pf->cap * 2;
            char *nb;

            if (ncap > PROCFILE_MAX + 1) {
                pf->len = 0;
                pf->buf[0] = '\0';
                return -EFBIG;
            }
            nb = realloc(pf->buf, ncap);
            if (!nb)
                return -ENOMEM;
            pf->buf = nb;
            pf->cap = ncap;
        }
        n = pread(pf->fd, pf->buf + len, pf->cap - 1 - len, (off_t)len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            pf->len = 0;
            pf->buf[0] = '\0';
            return -errno;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    pf->buf[len] = '\0';
    pf->len = len;
    return (long)len;
}

long read_file_once(const char *root, const char *rel, char *buf, size_t len)
{
    char path[4096];
    ssize_t n;
    int fd, r;

    if (len == 0)
        return -EINVAL;
    r = path_join(path, sizeof(path), root, rel);
    if (r < 0)
        return r;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    do
        n = read(fd, buf, len - 1);
    while (n < 0 && errno == EINTR);
    r = n < 0 ? -errno : 0;
    close(fd);
    if (r < 0)
        return r;
    buf[n] = '\0';
    return (long)n;
}

void procfile_free(struct procfile *pf)
{
    if (!pf)
        return;
    pthread_mutex_lock(&all_lock);
    if (pf->prev)
        pf->prev->next = pf->next;
    else
        all = pf->next;
    if (pf->next)
        pf->next->prev = pf->prev;
    pthread_mutex_unlock(&all_lock);
    if (pf->fd >= 0)
        close(pf->fd);
    free(pf->buf);
    free(pf);
}

void procfile_foreach(void (*fn)(void *ctx, const struct procfile *pf), void *ctx)
{
    pthread_mutex_lock(&all_lock);
    for (struct procfile *pf = all; pf; pf = pf->next)
        fn(ctx, pf);
    pthread_mutex_unlock(&all_lock);
}
