#define LOG_MODULE "statsd"
#include "ingest/statsd_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"

#define BATCH          32 /* datagrams per recvmmsg() */
#define PACKED_CHUNK   64 /* packed values recorded per agg_record() call */
#define DEFAULT_RCVBUF (32u << 20)

/*
 * The lines seen with a rate or tags, as sent: name and what follows the
 * value (type, rate, tags) -> the series. A line that repeats one of them (the
 * rule: a client sends the same names with the same tags again and again) is
 * recorded without parsing its tags, sorting them into the series' canonical
 * key and looking that up; only its value is parsed. (A line with neither
 * costs little the long way, and is not kept here: a flood of names without
 * tags takes no memory for this.) The server thread's own: no atomics.
 */
struct rawent {
    struct agg_series *series;
    double rate;
    uint16_t name_len, rest_len;
    uint8_t type;
    char bytes[]; /* name, then the rest */
};

struct rawslot {
    uint64_t h;
    struct rawent *e;
};

#define RAW_CHUNK (1u << 20)

struct statsd_server {
    struct agg *agg;
    struct rawslot *raw;
    size_t raw_mask, raw_n, raw_max;
    char *raw_chunk;
    size_t raw_used;
    char **raw_chunks;
    size_t n_raw_chunks;
    int fds[2]; /* UDP, Unix; -1 when not open */
    int wake[2];
    pthread_t thread;
    bool running;
    char unix_path[108];
    uint16_t port;
    uint32_t rcvbuf;
    char *bufs; /* BATCH x STATSD_DATAGRAM_MAX */
    /* stats: written by the thread, read by anyone */
    _Atomic uint64_t datagrams, lines, malformed, ignored, refused;
    _Atomic uint64_t reasons[STATSD_E_COUNT];
};

static const enum agg_kind kind_of[] = {
    [STATSD_COUNTER] = AGG_COUNTER,        [STATSD_GAUGE] = AGG_GAUGE,
    [STATSD_TIMER] = AGG_HISTOGRAM,        [STATSD_HISTOGRAM] = AGG_HISTOGRAM,
    [STATSD_DISTRIBUTION] = AGG_HISTOGRAM, [STATSD_SET] = AGG_SET,
};

/* A stats counter: written by the server's thread only (a plain load and
 * store, no locked add on every line), read by anyone. */
static inline void bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static uint64_t raw_hash(const char *name, size_t nl, const char *rest, size_t rl)
{
    return agg_hash(name, nl) * 0x9e3779b97f4a7c15ull ^ agg_hash(rest, rl);
}

static struct rawent *raw_find(struct statsd_server *s, uint64_t h, const char *name, size_t nl,
                               const char *rest, size_t rl)
{
    for (size_t i = h & s->raw_mask;; i = (i + 1) & s->raw_mask) {
        struct rawent *e = s->raw[i].e;
        if (!e)
            return NULL;
        if (s->raw[i].h == h && e->name_len == nl && e->rest_len == rl &&
            memcmp(e->bytes, name, nl) == 0 && memcmp(e->bytes + nl, rest, rl) == 0)
            return e;
    }
}

static void raw_add(struct statsd_server *s, uint64_t h, const char *name, size_t nl,
                    const char *rest, size_t rl, struct agg_series *series,
                    const struct statsd_line *m)
{
    size_t size = (sizeof(struct rawent) + nl + rl + 7) & ~(size_t)7, i;
    struct rawent *e;

    if (s->raw_n >= s->raw_max || nl + rl > UINT16_MAX || size > RAW_CHUNK)
        return; /* (those lines take the long way) */
    if (!s->raw_chunk || s->raw_used + size > RAW_CHUNK) {
        char **nc = realloc(s->raw_chunks, (s->n_raw_chunks + 1) * sizeof(*nc));
        if (!nc)
            return;
        s->raw_chunks = nc;
        if (!(s->raw_chunk = malloc(RAW_CHUNK)))
            return;
        s->raw_chunks[s->n_raw_chunks++] = s->raw_chunk;
        s->raw_used = 0;
    }
    e = (struct rawent *)(s->raw_chunk + s->raw_used);
    s->raw_used += size;
    e->series = series;
    e->rate = m->rate;
    e->type = (uint8_t)m->type;
    e->name_len = (uint16_t)nl;
    e->rest_len = (uint16_t)rl;
    memcpy(e->bytes, name, nl);
    memcpy(e->bytes + nl, rest, rl);
    for (i = h & s->raw_mask; s->raw[i].e; i = (i + 1) & s->raw_mask)
        ;
    s->raw[i] = (struct rawslot){h, e};
    s->raw_n++;
}

static void count(struct statsd_server *s, int r)
{
    if (r < 0)
        bump(&s->refused);
    else
        bump(&s->lines);
}

/* A line seen before, with one number: recorded; false for the long way. */
static bool fast_line(struct statsd_server *s, const char *l, size_t n)
{
    const char *end = l + n, *colon = memchr(l, ':', n), *bar, *v;
    struct rawent *e;
    size_t vl;
    double x;

    if (!colon || !s->raw)
        return false;
    bar = memchr(colon + 1, '|', (size_t)(end - colon - 1));
    if (!bar || !memchr(bar + 1, '|', (size_t)(end - bar - 1)))
        return false; /* (no sections: the long way is short) */
    e = raw_find(s, raw_hash(l, (size_t)(colon - l), bar + 1, (size_t)(end - bar - 1)), l,
                 (size_t)(colon - l), bar + 1, (size_t)(end - bar - 1));
    v = colon + 1;
    vl = (size_t)(bar - v);
    if (!e || e->type == STATSD_SET || memchr(v, ':', vl) || !statsd_number(v, vl, &x))
        return false; /* (a set's member, packed values, a bad number: the parser says) */
    count(s, agg_series_record(s->agg, e->series,
                               e->type == STATSD_GAUGE && (v[0] == '+' || v[0] == '-'), &x, 1,
                               e->rate, NULL, 0));
    return true;
}

static void record_line(struct statsd_server *s, const struct statsd_line *m, const char *line,
                        size_t len)
{
    struct agg_label labels[AGG_MAX_LABELS];
    size_t nl = m->n_tags < AGG_MAX_LABELS ? m->n_tags : AGG_MAX_LABELS;
    enum agg_kind kind = kind_of[m->type];
    bool timer = m->type == STATSD_TIMER;
    struct agg_series *series;
    int r = 0;

    if (m->n_tags > AGG_MAX_LABELS) {
        count(s, -E2BIG);
        return;
    }
    for (size_t i = 0; i < nl; i++)
        labels[i] = (struct agg_label){m->tags[i].key, m->tags[i].val, m->tags[i].key_len,
                                       m->tags[i].val_len};
    series = agg_get(s->agg, m->name, m->name_len, labels, nl, kind, timer, false, &r);
    if (!series) {
        if (r == -ENOSPC)
            agg_count_dropped(s->agg, m->n_values);
        count(s, r);
        return;
    }
    if (kind == AGG_SET) {
        r = agg_series_record(s->agg, series, false, NULL, 0, m->rate, m->values, m->values_len);
    } else if (m->n_values == 1) {
        r = agg_series_record(s->agg, series, m->delta, &m->value, 1, m->rate, NULL, 0);
    } else {
        double v[PACKED_CHUNK];
        size_t pos = 0, n = 0;
        for (;;) {
            int e = statsd_value_next(m, &pos, &v[n]);
            if (e == 0)
                n++;
            if (n == PACKED_CHUNK || (e < 0 && n)) {
                r = agg_series_record(s->agg, series, m->delta, v, n, m->rate, NULL, 0);
                n = 0;
                if (r < 0)
                    break;
            }
            if (e < 0)
                break;
        }
    }
    count(s, r);
    if (kind != AGG_SET && (m->n_tags || m->rate != 1)) {
        /* the rest of the line: what follows the value field's '|' */
        const char *bar = m->values + m->values_len, *end = line + len;
        raw_add(s, raw_hash(m->name, m->name_len, bar + 1, (size_t)(end - bar - 1)), m->name,
                m->name_len, bar + 1, (size_t)(end - bar - 1), series, m);
    }
}

void statsd_server_datagram(struct statsd_server *s, const char *buf, size_t len)
{
    size_t pos = 0, n;
    const char *l;
    struct statsd_line m;

    bump(&s->datagrams);
    while (statsd_next_line(buf, len, &pos, &l, &n)) {
        int r;
        if (fast_line(s, l, n))
            continue;
        r = statsd_parse_line(l, n, &m);
        if (r < 0) {
            bump(&s->malformed);
            if (-r < STATSD_E_COUNT)
                bump(&s->reasons[-r]);
        } else if (m.kind != STATSD_KIND_METRIC) {
            bump(&s->ignored);
        } else {
            record_line(s, &m, l, n);
        }
    }
}

static void drain_fd(struct statsd_server *s, int fd)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];

    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){s->bufs + (size_t)i * STATSD_DATAGRAM_MAX, STATSD_DATAGRAM_MAX};
        memset(&msgs[i], 0, sizeof(msgs[i]));
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("receiving: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            /* a truncated datagram (longer than the buffer) is dropped whole */
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                bump(&s->malformed);
                bump(&s->reasons[STATSD_E_LINE_TOO_LONG]);
                continue;
            }
            statsd_server_datagram(s, iov[i].iov_base, msgs[i].msg_len);
            msgs[i].msg_hdr.msg_flags = 0;
        }
        if (n < BATCH)
            return;
    }
}

static void *run(void *arg)
{
    struct statsd_server *s = arg;
    struct pollfd p[3];

    p[0] = (struct pollfd){s->wake[0], POLLIN, 0};
    p[1] = (struct pollfd){s->fds[0], POLLIN, 0};
    p[2] = (struct pollfd){s->fds[1], POLLIN, 0};
    for (;;) {
        int r = poll(p, 3, -1);
        if (r < 0 && errno != EINTR) {
            log_error("poll: %s; the StatsD server stops", strerror(errno));
            return NULL;
        }
        if (r <= 0)
            continue;
        if (p[0].revents)
            return NULL;
        for (int i = 0; i < 2; i++)
            if (s->fds[i] >= 0 && (p[i + 1].revents & POLLIN))
                drain_fd(s, s->fds[i]);
    }
}

/* "HOST:PORT" or "[V6]:PORT" into host and port strings. */
static int split_hostport(const char *hp, char *host, size_t hl, char *port, size_t pl)
{
    const char *colon;

    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (!end || end[1] != ':' || (size_t)(end - hp - 1) >= hl)
            return -EINVAL;
        memcpy(host, hp + 1, (size_t)(end - hp - 1));
        host[end - hp - 1] = 0;
        colon = end + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon || (size_t)(colon - hp) >= hl)
            return -EINVAL;
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = 0;
    }
    if (!colon[1] || strlen(colon + 1) >= pl)
        return -EINVAL;
    snprintf(port, pl, "%s", colon + 1);
    return 0;
}

static void set_rcvbuf(int fd, uint32_t want, uint32_t *got)
{
    int v = (int)want;
    socklen_t len = sizeof(v);

    /* past net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE) */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) == 0) {
        *got = (uint32_t)v;
        if ((uint32_t)v / 2 < want / 2)
            log_warn("the receive buffer is %d bytes, not %u: raise net.core.rmem_max to avoid "
                     "losing datagrams in bursts",
                     v / 2, want);
    }
}

static int open_udp(struct statsd_server *s, const char *hp)
{
    char host[256], port[16];
    struct addrinfo hints = {0}, *ai = NULL;
    int fd = -1, r;

    if (split_hostport(hp, host, sizeof(host), port, sizeof(port)) < 0) {
        log_error("statsd.listen \"%s\": not HOST:PORT", hp);
        return -EINVAL;
    }
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    r = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (r != 0) {
        log_error("statsd.listen \"%s\": %s", hp, gai_strerror(r));
        return -EINVAL;
    }
    fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    /* (no SO_REUSEADDR: on UDP it would let a second agent share the port unnoticed) */
    set_rcvbuf(fd, s->rcvbuf, &s->rcvbuf);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        r = -errno;
        log_error("statsd.listen %s: %s", hp, strerror(errno));
        close(fd);
        fd = -1;
        goto out;
    }
    {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    }
    s->fds[0] = fd;
    r = 0;
out:
    freeaddrinfo(ai);
    return r;
}

static int open_unix(struct statsd_server *s, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    uint32_t got = 0;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_error("statsd.unix_socket %s: too long a path", path);
        return -ENAMETOOLONG;
    }
    /* a socket left by an earlier run is replaced; any other file is not touched */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_error("statsd.unix_socket %s: exists and is not a socket", path);
            return -EEXIST;
        }
        unlink(path);
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    set_rcvbuf(fd, s->rcvbuf, &got);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int r = -errno;
        log_error("statsd.unix_socket %s: %s", path, strerror(errno));
        close(fd);
        return r;
    }
    snprintf(s->unix_path, sizeof(s->unix_path), "%s", path);
    s->fds[1] = fd;
    return 0;
}

static void close_all(struct statsd_server *s)
{
    for (int i = 0; i < 2; i++)
        if (s->fds[i] >= 0)
            close(s->fds[i]);
    if (s->unix_path[0])
        unlink(s->unix_path);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    for (size_t i = 0; i < s->n_raw_chunks; i++)
        free(s->raw_chunks[i]);
    free(s->raw_chunks);
    free(s->raw);
    free(s->bufs);
    free(s);
}

static int raw_init(struct statsd_server *s)
{
    /* a form per series, up to 64 Ki of them */
    size_t cap = 1024;

    s->raw_max = agg_max_series(s->agg) < 65536 ? agg_max_series(s->agg) : 65536;
    while (cap < 2 * s->raw_max)
        cap *= 2;
    s->raw = calloc(cap, sizeof(*s->raw));
    s->raw_mask = cap - 1;
    return s->raw ? 0 : -ENOMEM;
}

struct statsd_server *statsd_server_detached(struct agg *a)
{
    struct statsd_server *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->fds[0] = s->fds[1] = s->wake[0] = s->wake[1] = -1;
    s->agg = a;
    if (raw_init(s) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

int statsd_server_start(struct statsd_server **ret, const struct statsd_server_options *opt)
{
    struct statsd_server *s = calloc(1, sizeof(*s));
    int r = 0;

    if (!s)
        return -ENOMEM;
    s->fds[0] = s->fds[1] = s->wake[0] = s->wake[1] = -1;
    s->agg = opt->agg ? opt->agg : agg_global();
    s->rcvbuf = opt->rcvbuf_bytes ? opt->rcvbuf_bytes : DEFAULT_RCVBUF;
    s->bufs = malloc((size_t)BATCH * STATSD_DATAGRAM_MAX);
    if (s->agg && raw_init(s) < 0)
        s->agg = NULL; /* (reported as out of memory below) */
    if (!s->bufs || !s->agg || pipe2(s->wake, O_CLOEXEC) < 0) {
        r = s->bufs && s->agg ? -errno : -ENOMEM;
        goto fail;
    }
    if (opt->listen && opt->listen[0] && (r = open_udp(s, opt->listen)) < 0)
        goto fail;
    if (opt->unix_socket && opt->unix_socket[0] && (r = open_unix(s, opt->unix_socket)) < 0)
        goto fail;
    if (s->fds[0] < 0 && s->fds[1] < 0) {
        r = -EINVAL;
        goto fail;
    }
    r = pthread_create(&s->thread, NULL, run, s);
    if (r != 0) {
        r = -r;
        goto fail;
    }
    s->running = true;
    if (s->fds[0] >= 0)
        log_info("StatsD on udp %s (port %u, receive buffer %u bytes)", opt->listen, s->port,
                 s->rcvbuf);
    if (s->fds[1] >= 0)
        log_info("StatsD on unix %s", s->unix_path);
    *ret = s;
    return 0;
fail:
    close_all(s);
    return r;
}

void statsd_server_stop(struct statsd_server *s)
{
    if (!s)
        return;
    if (s->running) {
        ssize_t w;
        do
            w = write(s->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(s->thread, NULL);
    }
    close_all(s);
}

void statsd_server_get_stats(struct statsd_server *s, struct statsd_server_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->datagrams = atomic_load(&s->datagrams);
    ret->lines = atomic_load(&s->lines);
    ret->malformed = atomic_load(&s->malformed);
    ret->ignored = atomic_load(&s->ignored);
    ret->refused = atomic_load(&s->refused);
    for (int i = 0; i < STATSD_E_COUNT; i++)
        ret->reasons[i] = atomic_load(&s->reasons[i]);
    ret->rcvbuf_bytes = s->fds[0] >= 0 ? s->rcvbuf : 0;
}
