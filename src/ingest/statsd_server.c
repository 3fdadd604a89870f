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

struct statsd_server {
    struct agg *agg;
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

static void record_line(struct statsd_server *s, const struct statsd_line *m)
{
    struct agg_label labels[AGG_MAX_LABELS];
    size_t nl = m->n_tags < AGG_MAX_LABELS ? m->n_tags : AGG_MAX_LABELS;
    enum agg_kind kind = kind_of[m->type];
    bool timer = m->type == STATSD_TIMER;
    int r = 0;

    if (m->n_tags > AGG_MAX_LABELS) {
        atomic_fetch_add_explicit(&s->refused, 1, memory_order_relaxed);
        return;
    }
    for (size_t i = 0; i < nl; i++)
        labels[i] = (struct agg_label){m->tags[i].key, m->tags[i].val, m->tags[i].key_len,
                                       m->tags[i].val_len};
    if (kind == AGG_SET) {
        r = agg_record(s->agg, m->name, m->name_len, labels, nl, kind, false, false, NULL, 0,
                       m->rate, m->values, m->values_len);
    } else if (m->n_values == 1) {
        r = agg_record(s->agg, m->name, m->name_len, labels, nl, kind, timer, m->delta, &m->value,
                       1, m->rate, NULL, 0);
    } else {
        double v[PACKED_CHUNK];
        size_t pos = 0, n = 0;
        for (;;) {
            int e = statsd_value_next(m, &pos, &v[n]);
            if (e == 0)
                n++;
            if (n == PACKED_CHUNK || (e < 0 && n)) {
                r = agg_record(s->agg, m->name, m->name_len, labels, nl, kind, timer, m->delta, v,
                               n, m->rate, NULL, 0);
                n = 0;
                if (r < 0)
                    break;
            }
            if (e < 0)
                break;
        }
    }
    if (r < 0)
        atomic_fetch_add_explicit(&s->refused, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&s->lines, 1, memory_order_relaxed);
}

void statsd_server_datagram(struct statsd_server *s, const char *buf, size_t len)
{
    size_t pos = 0, n;
    const char *l;
    struct statsd_line m;

    atomic_fetch_add_explicit(&s->datagrams, 1, memory_order_relaxed);
    while (statsd_next_line(buf, len, &pos, &l, &n)) {
        int r = statsd_parse_line(l, n, &m);
        if (r < 0) {
            atomic_fetch_add_explicit(&s->malformed, 1, memory_order_relaxed);
            if (-r < STATSD_E_COUNT)
                atomic_fetch_add_explicit(&s->reasons[-r], 1, memory_order_relaxed);
        } else if (m.kind != STATSD_KIND_METRIC) {
            atomic_fetch_add_explicit(&s->ignored, 1, memory_order_relaxed);
        } else {
            record_line(s, &m);
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
                atomic_fetch_add_explicit(&s->malformed, 1, memory_order_relaxed);
                atomic_fetch_add_explicit(&s->reasons[STATSD_E_LINE_TOO_LONG], 1,
                                          memory_order_relaxed);
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
    free(s->bufs);
    free(s);
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

uint16_t statsd_server_port(struct statsd_server *s)
{
    return s->fds[0] >= 0 ? s->port : 0;
}
