#define LOG_MODULE "store"
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "core/log.h"

static const char magic[7] = {'A', 'R', 'M', 'N', 'J', 'R', 'N'}; /* then the format digit */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

int jr_parse_header(const uint8_t *buf, size_t len, uint64_t *db_id, uint64_t *gen)
{
    if (len < JR_HDR_LEN || memcmp(buf, magic, sizeof(magic)) != 0 ||
        (buf[7] != '1' && buf[7] != '2'))
        return -EBADMSG;
    *db_id = get64(buf + 8);
    *gen = get64(buf + 16);
    return buf[7] - '0';
}

/* The CRC of a record: its ts and payload, which follow each other (h: the record). */
static uint32_t rec_crc(const uint8_t *h, uint32_t len)
{
    return blk_crc32c(h + 8, 8 + (size_t)len);
}

uint64_t jr_scan(const uint8_t *buf, size_t len,
                 int (*fn)(void *ctx, int64_t ts, uint64_t off, const uint8_t *payload,
                           uint32_t plen),
                 void *ctx)
{
    uint64_t off = JR_HDR_LEN;

    if (len < JR_HDR_LEN)
        return 0;
    while (len - off >= JR_REC_HDR_LEN) {
        const uint8_t *h = buf + off;
        uint32_t plen = get32(h), crc = get32(h + 4);
        if (plen > JR_MAX_PAYLOAD || plen > len - off - JR_REC_HDR_LEN)
            break;
        if (rec_crc(h, plen) != crc)
            break;
        if (fn && fn(ctx, (int64_t)get64(h + 8), off, h + JR_REC_HDR_LEN, plen))
            break;
        off += JR_REC_HDR_LEN + plen;
    }
    return off;
}

static int index_add(struct journal *j, int64_t ts, uint64_t off, uint32_t len)
{
    if (j->n == j->cap) {
        size_t ncap = j->cap ? j->cap * 2 : 1024;
        struct jr_rec *nv = realloc(j->v, ncap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        j->v = nv;
        j->cap = ncap;
    }
    if (j->n && ts <= j->v[j->n - 1].ts)
        j->sorted = false;
    j->v[j->n++] = (struct jr_rec){ts, off, len};
    if (ts > j->max_ts)
        j->max_ts = ts;
    return 0;
}

static int scan_add(void *ctx, int64_t ts, uint64_t off, const uint8_t *payload, uint32_t plen)
{
    (void)payload;
    return index_add(ctx, ts, off, plen) < 0;
}

static void index_reset(struct journal *j)
{
    j->n = 0;
    j->sorted = true;
    j->max_ts = INT64_MIN;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -ENOSPC;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sync_dir(const char *path)
{
    char *copy = strdup(path);
    int fd, r = 0;

    if (!copy)
        return -ENOMEM;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        r = -errno;
    close(fd);
    return r;
}

/* A new file at path (through path.tmp and a rename): the header, then buf. */
static int create_file(const char *path, int format, uint64_t db_id, uint64_t gen, int *ret_fd)
{
    uint8_t h[JR_HDR_LEN];
    int fd, r;

    memcpy(h, magic, sizeof(magic));
    h[7] = (uint8_t)('0' + format);
    put64(h + 8, db_id);
    put64(h + 16, gen);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    r = write_all(fd, h, sizeof(h));
    if (r < 0) {
        close(fd);
        return r;
    }
    *ret_fd = fd;
    return 0;
}

static int set_aside(const char *path, const char *why)
{
    char aside[4096];
    struct stat sb;
    int k = 0;

    /* a name not taken yet: never over another set-aside file */
    do
        snprintf(aside, sizeof(aside), "%s.orphan-%lld%s%.0d", path, (long long)time(NULL),
                 k ? "-" : "", k);
    while (stat(aside, &sb) == 0 && ++k < 1000);
    if (rename(path, aside) < 0)
        return -errno;
    log_warn("%s: %s; set aside as %s (not replayed)", path, why, aside);
    return 0;
}

int jr_open(struct journal *j, const char *path, uint64_t db_id, uint64_t new_gen, bool read_only,
            struct strbuf *errs)
{
    struct stat sb;
    uint8_t *map = NULL;
    uint64_t fid = 0, fgen = 0, end;
    int fd = -1, r;

    memset(j, 0, sizeof(*j));
    j->fd = -1;
    j->read_only = read_only;
    j->db_id = db_id;
    j->format = JR_FORMAT;
    index_reset(j);
    j->path = strdup(path);
    if (!j->path) {
        strbuf_puts(errs, "store: out of memory\n");
        return -ENOMEM;
    }
    fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        r = -errno;
        strbuf_printf(errs, "%s: cannot open: %s\n", path, strerror(errno));
        goto fail;
    }
    if (fd >= 0 && fstat(fd, &sb) < 0) {
        r = -errno;
        strbuf_printf(errs, "%s: %s\n", path, strerror(errno));
        goto fail;
    }
    if (fd >= 0 && sb.st_size > 0) {
        map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            r = -errno;
            strbuf_printf(errs, "%s: cannot map: %s\n", path, strerror(errno));
            map = NULL;
            goto fail;
        }
        int fmt = jr_parse_header(map, (size_t)sb.st_size, &fid, &fgen);
        if (fmt > 0)
            j->format = fmt;
        if (fmt < 0 || fid != db_id) {
            bool foreign = fmt > 0;
            munmap(map, (size_t)sb.st_size);
            map = NULL;
            close(fd);
            fd = -1;
            if (read_only) {
                j->gen = new_gen;
                return 0; /* the daemon sets it aside when it starts */
            }
            r = set_aside(path,
                          foreign ? "a tick journal of another database" : "not a tick journal");
            if (r < 0) {
                strbuf_printf(errs, "%s: cannot set it aside: %s\n", path, strerror(-r));
                goto fail;
            }
        }
    }
    if (map) {
        j->gen = fgen;
        end = jr_scan(map, (size_t)sb.st_size, scan_add, j);
        if (end < JR_HDR_LEN) {
            r = -ENOMEM;
            strbuf_puts(errs, "store: out of memory\n");
            goto fail;
        }
        j->size = end;
        if (read_only) {
            j->map = map;
            j->map_len = (size_t)sb.st_size;
            j->fd = fd;
            return 0;
        }
        munmap(map, (size_t)sb.st_size);
        map = NULL;
        if (end < (uint64_t)sb.st_size) {
            /* zeros are the room appends were allocated ahead; anything else
             * is a record cut short. Both go: what follows the last whole
             * record must never be read as more of it */
            bool zeros = true;
            int fd2 = open(path, O_RDONLY | O_CLOEXEC);
            const uint8_t *m2 = fd2 < 0
                                    ? MAP_FAILED
                                    : mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd2, 0);
            if (m2 != MAP_FAILED) {
                for (uint64_t i = end; i < (uint64_t)sb.st_size && zeros; i++)
                    zeros = m2[i] == 0;
                munmap((void *)m2, (size_t)sb.st_size);
            }
            if (fd2 >= 0)
                close(fd2);
            if (!zeros)
                log_warn("%s: %" PRIu64 " bytes after the last whole tick (a write cut short) "
                         "dropped",
                         path, (uint64_t)sb.st_size - end);
            if (ftruncate(fd, (off_t)end) < 0) {
                r = -errno;
                strbuf_printf(errs, "%s: cannot cut the torn tail: %s\n", path, strerror(errno));
                goto fail;
            }
        }
        j->fd = fd;
        j->file_len = end;
        return 0;
    }
    if (fd >= 0)
        close(fd);
    fd = -1;
    j->gen = new_gen;
    if (read_only)
        return 0;
    j->format = JR_FORMAT;
    r = create_file(path, j->format, db_id, new_gen, &j->fd);
    if (r < 0) {
        strbuf_printf(errs, "%s: cannot create: %s\n", path, strerror(-r));
        goto fail;
    }
    j->size = j->file_len = JR_HDR_LEN;
    return 0;
fail:
    if (map)
        munmap(map, (size_t)sb.st_size);
    if (fd >= 0)
        close(fd);
    jr_close(j);
    return r;
}

/* Unmaps the append window (if any). */
static void win_drop(struct journal *j)
{
    if (j->win)
        munmap(j->win, j->win_len);
    j->win = NULL;
    j->win_off = 0;
    j->win_len = 0;
    j->populated = 0;
}

void jr_close(struct journal *j)
{
    win_drop(j);
    /* the room allocated ahead goes (a clean stop leaves the records only) */
    if (j->fd >= 0 && !j->read_only && j->file_len > j->size &&
        ftruncate(j->fd, (off_t)j->size) < 0)
        log_debug("%s: %s", j->path, strerror(errno));
    if (j->map)
        munmap((void *)j->map, j->map_len);
    if (j->fd >= 0)
        close(j->fd);
    free(j->v);
    free(j->path);
    memset(j, 0, sizeof(*j));
    j->fd = -1;
}

/*
 * Room for [j->size, j->size + want): the file's blocks allocated that far and
 * a step beyond (a full disk is an error here, not a fault later), and a
 * mapping that covers it. The mapping is JR_MAP_SPAN long, past the file's
 * end (never touched there), so that it is remade rarely; the allocation step
 * is about 256 records, so that a full disk is noticed within a few hundred
 * ticks while allocating stays off the per-tick path.
 * 0, -ENOSPC and the like, or -EOPNOTSUPP when the file system cannot
 * allocate ahead (the caller writes instead).
 */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/*
 * The pages allocated ahead, made present and writable in the mapping now, in
 * one call: otherwise every page costs the tick that first writes to it a
 * fault (page cache page, block mapping, write permission) of several us.
 * Best effort: on an older kernel (EINVAL) the faults come one by one as before.
 */
static void populate(struct journal *j, uint64_t pg)
{
    uint64_t from = (j->populated > j->size ? j->populated : j->size) / pg * pg;
    uint64_t to = j->file_len < j->win_off + j->win_len ? j->file_len : j->win_off + j->win_len;

    if (j->no_populate || from < j->win_off || from >= to)
        return;
    if (madvise(j->win + (from - j->win_off), (size_t)(to - from), MADV_POPULATE_WRITE) < 0) {
        if (errno == EINVAL || errno == ENOSYS)
            j->no_populate = true;
        return;
    }
    j->populated = to;
}

static uint64_t page_size(void)
{
    long page = sysconf(_SC_PAGESIZE);

    return page > 0 ? (uint64_t)page : 4096;
}

static int win_make(struct journal *j, size_t want)
{
    uint64_t pg = page_size(), end, step;
    int r;

    step = 256 * (uint64_t)want;
    step = step < JR_WINDOW ? JR_WINDOW : step > JR_WINDOW_MAX ? JR_WINDOW_MAX : step;
    /* a step ahead; on a nearly full disk, just what this record needs */
    for (int tries = 0; tries < 2 && j->size + want > j->file_len; tries++) {
        end = j->size + want + (tries ? 0 : step);
        end = (end + pg - 1) / pg * pg;
        do
            r = posix_fallocate(j->fd, (off_t)j->file_len, (off_t)(end - j->file_len));
        while (r == EINTR);
        if (r == EOPNOTSUPP || r == ENOSYS)
            return -EOPNOTSUPP;
        if (r == 0) {
            j->file_len = end;
            break;
        }
        if (tries || r != ENOSPC)
            return -r;
    }
    if (!j->win || j->size + want > j->win_off + j->win_len) {
        uint64_t start = j->size / pg * pg, len = JR_MAP_SPAN;
        void *m;
        if (len < j->size + want - start)
            len = (j->size + want - start + pg - 1) / pg * pg;
        win_drop(j);
        m = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, (off_t)start);
        if (m == MAP_FAILED)
            return -errno;
        j->win = m;
        j->win_off = start;
        j->win_len = (size_t)len;
        j->released = start;
    }
    populate(j, pg);
    return 0;
}

/*
 * The window's whole pages behind the end of the last record are written for good:
 * out of this process's page tables with them. The page cache keeps them (a dirty
 * one is written back as usual, and fdatasync() still covers it), so nothing is
 * lost; what goes is their count in the agent's resident memory, which would
 * otherwise grow with the current hour's ticks, up to the window's 8 MiB. One
 * madvise() per page filled, a few ticks apart.
 */
static void release(struct journal *j)
{
    uint64_t pg = page_size(), done = j->size / pg * pg;

    if (done <= j->released || j->released < j->win_off)
        return;
    if (madvise(j->win + (j->released - j->win_off), (size_t)(done - j->released), MADV_DONTNEED) ==
        0)
        j->released = done;
}

int jr_append(struct journal *j, int64_t ts, uint8_t *rec, uint32_t len)
{
    size_t want = JR_REC_HDR_LEN + (size_t)len;
    int r;

    if (j->fd < 0 || j->read_only)
        return -EBADF;
    if (len > JR_MAX_PAYLOAD)
        return -E2BIG;
    put32(rec, len);
    put64(rec + 8, (uint64_t)ts);
    put32(rec + 4, rec_crc(rec, len));
    if (!j->no_win &&
        (j->size + want > j->file_len || !j->win || j->size + want > j->win_off + j->win_len)) {
        r = win_make(j, want);
        if (r == -EOPNOTSUPP) {
            j->no_win = true;
        } else if (r < 0) {
            return r;
        }
    }
    if (!j->no_win) {
        memcpy(j->win + (j->size - j->win_off), rec, want);
    } else {
        ssize_t w;
        do
            w = pwrite(j->fd, rec, want, (off_t)j->size);
        while (w < 0 && errno == EINTR);
        if (w != (ssize_t)want) {
            r = w < 0 ? -errno : -ENOSPC;
            /* a partial record would end the journal for every reader: take it back */
            if (w > 0 && ftruncate(j->fd, (off_t)j->size) < 0)
                log_warn("%s: cannot take back a partial write: %s", j->path, strerror(errno));
            return r;
        }
        if (j->size + want > j->file_len)
            j->file_len = j->size + want;
    }
    r = index_add(j, ts, j->size, len);
    if (r < 0) {
        /* the record is there but not indexed: overwritten by the next one */
        if (!j->no_win)
            memset(j->win + (j->size - j->win_off), 0, JR_REC_HDR_LEN);
        return r;
    }
    j->size += want;
    if (!j->no_win)
        release(j);
    return 0;
}

int jr_read(const struct journal *j, const struct jr_rec *r, uint8_t *buf)
{
    uint8_t *rec;
    ssize_t n;
    int err = 0;

    if (j->map) {
        const uint8_t *p = jr_view(j->map, j->map_len, r);
        if (!p)
            return -EBADMSG;
        memcpy(buf, p, r->len);
        return 0;
    }
    if (j->fd < 0)
        return -EBADF;
    rec = malloc(JR_REC_HDR_LEN + (size_t)r->len);
    if (!rec)
        return -ENOMEM;
    do
        n = pread(j->fd, rec, JR_REC_HDR_LEN + (size_t)r->len, (off_t)r->off);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        err = -errno;
    else if ((size_t)n != JR_REC_HDR_LEN + (size_t)r->len || get32(rec) != r->len ||
             (int64_t)get64(rec + 8) != r->ts || rec_crc(rec, r->len) != get32(rec + 4))
        err = -EBADMSG;
    else
        memcpy(buf, rec + JR_REC_HDR_LEN, r->len);
    free(rec);
    return err;
}

const uint8_t *jr_map(const struct journal *j, uint64_t len)
{
    void *m;

    if (j->fd < 0 || len == 0 || len > SIZE_MAX)
        return NULL;
    m = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, j->fd, 0);
    return m == MAP_FAILED ? NULL : m;
}

const uint8_t *jr_view(const uint8_t *map, size_t map_len, const struct jr_rec *r)
{
    const uint8_t *h;

    if (r->off > map_len || map_len - r->off < JR_REC_HDR_LEN + (uint64_t)r->len)
        return NULL;
    h = map + r->off;
    if (get32(h) != r->len || (int64_t)get64(h + 8) != r->ts || rec_crc(h, r->len) != get32(h + 4))
        return NULL;
    return h + JR_REC_HDR_LEN;
}

bool jr_has(const struct journal *j, int64_t ts)
{
    if (j->n == 0 || ts > j->max_ts)
        return false;
    if (j->sorted) {
        size_t lo = 0, hi = j->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (j->v[mid].ts < ts)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < j->n && j->v[lo].ts == ts;
    }
    for (size_t i = 0; i < j->n; i++)
        if (j->v[i].ts == ts)
            return true;
    return false;
}

int jr_rewrite(struct journal *j, uint64_t gen, bool (*keep)(void *ctx, const struct jr_rec *r),
               void *ctx)
{
    char tmp[4096];
    struct journal nj;
    uint8_t *buf = NULL;
    size_t cap = 0;
    int fd = -1, r = 0, fmt;

    if (j->read_only || j->fd < 0)
        return -EBADF;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", j->path) >= sizeof(tmp))
        return -ENAMETOOLONG;
    {
        /* the records are copied as they are, so the file keeps its format;
         * one that keeps none starts afresh in the current format */
        size_t kept = 0;
        for (size_t i = 0; i < j->n; i++)
            kept += keep(ctx, &j->v[i]);
        fmt = kept ? j->format : JR_FORMAT;
    }
    r = create_file(tmp, fmt, j->db_id, gen, &fd);
    if (r < 0)
        return r;
    memset(&nj, 0, sizeof(nj));
    index_reset(&nj);
    nj.size = JR_HDR_LEN;
    for (size_t i = 0; i < j->n && r == 0; i++) {
        const struct jr_rec *rec = &j->v[i];
        size_t n = JR_REC_HDR_LEN + rec->len;
        ssize_t got;
        if (!keep(ctx, rec))
            continue;
        if (n > cap) {
            uint8_t *nb = realloc(buf, n);
            if (!nb) {
                r = -ENOMEM;
                break;
            }
            buf = nb;
            cap = n;
        }
        /* the record as it is, header and all (its CRC still holds) */
        do
            got = pread(j->fd, buf, n, (off_t)rec->off);
        while (got < 0 && errno == EINTR);
        if (got != (ssize_t)n) {
            r = got < 0 ? -errno : -EBADMSG;
            break;
        }
        r = write_all(fd, buf, n);
        if (r == 0)
            r = index_add(&nj, rec->ts, nj.size, rec->len);
        nj.size += n;
    }
    free(buf);
    if (r == 0 && fdatasync(fd) < 0)
        r = -errno;
    if (r == 0 && rename(tmp, j->path) < 0)
        r = -errno;
    if (r < 0) {
        close(fd);
        unlink(tmp);
        free(nj.v);
        return r;
    }
    sync_dir(j->path); /* the rename is durable; failing that, the old file is replayed */
    win_drop(j);
    close(j->fd);
    free(j->v);
    j->fd = fd;
    j->gen = gen;
    j->format = fmt;
    j->size = j->file_len = nj.size;
    j->v = nj.v;
    j->n = nj.n;
    j->cap = nj.cap;
    j->sorted = nj.sorted;
    j->max_ts = nj.max_ts;
    return 0;
}

void jr_forget(struct journal *j, bool (*drop)(void *ctx, const struct jr_rec *r), void *ctx)
{
    size_t w = 0;

    j->sorted = true;
    j->max_ts = INT64_MIN;
    for (size_t i = 0; i < j->n; i++) {
        if (drop(ctx, &j->v[i]))
            continue;
        if (w && j->v[i].ts <= j->v[w - 1].ts)
            j->sorted = false;
        if (j->v[i].ts > j->max_ts)
            j->max_ts = j->v[i].ts;
        j->v[w++] = j->v[i];
    }
    j->n = w;
}

int jr_sync(struct journal *j)
{
    if (j->fd < 0 || j->read_only)
        return 0;
    return fdatasync(j->fd) < 0 ? -errno : 0;
}

struct ts_idx {
    int64_t ts;
    size_t i;
};

static int cmp_ts_idx(const void *a, const void *b)
{
    const struct ts_idx *x = a, *y = b;

    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

long jr_range(const struct journal *j, int64_t from, int64_t to, size_t **ret)
{
    size_t *idx, n = 0, lo = 0;

    *ret = NULL;
    if (j->sorted) {
        size_t hi = j->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (j->v[mid].ts < from)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    idx = malloc((j->n - lo + 1) * sizeof(*idx));
    if (!idx)
        return -ENOMEM;
    for (size_t i = lo; i < j->n; i++) {
        if (j->v[i].ts > to) {
            if (j->sorted)
                break;
            continue;
        }
        if (j->v[i].ts >= from)
            idx[n++] = i;
    }
    if (!j->sorted && n > 1) {
        /* a late tick: order by time (rare; a copy keeps qsort free of globals) */
        struct ts_idx *t = malloc(n * sizeof(*t));
        if (!t) {
            free(idx);
            return -ENOMEM;
        }
        for (size_t k = 0; k < n; k++)
            t[k] = (struct ts_idx){j->v[idx[k]].ts, idx[k]};
        qsort(t, n, sizeof(*t), cmp_ts_idx);
        for (size_t k = 0; k < n; k++)
            idx[k] = t[k].i;
        free(t);
    }
    *ret = idx;
    return (long)n;
}
