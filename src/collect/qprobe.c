/* The quantum collector's probes; see qprobe.h for what each promises. */
#include "qprobe.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_now(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t thread_cpu(void)
{
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* ---- SHA3-256, from Nettle, loaded at run time ----
 *
 * Nettle (the cryptography GnuTLS is built on) is already mapped in the daemon,
 * which serves TLS with GnuTLS, so the probe costs no memory for its hash; an
 * embedding process loads its 300 KB on the probe's first use. OpenSSL's
 * libcrypto would do the same work, but loading it and its provider start-up
 * cost 3.5 MiB of resident memory, close to half the agent's whole budget
 * (docs/metrics.md). Only the three functions the probe uses, with the
 * prototypes of <nettle/sha3.h>; the context is Nettle's struct sha3_256_ctx
 * (25 64-bit lanes, an index and a 136-byte block: 344 bytes), kept in a larger
 * aligned buffer. Nettle hashes without allocating.
 */
#define NETTLE_SONAME "libnettle.so.8"
#define SHA3_CTX_SIZE 1024 /* >= sizeof(struct sha3_256_ctx) in every Nettle 3.x */

struct sha3_ctx {
    _Alignas(16) unsigned char opaque[SHA3_CTX_SIZE];
};

struct crypto_dl {
    void (*init)(struct sha3_ctx *ctx);
    void (*update)(struct sha3_ctx *ctx, size_t len, const uint8_t *data);
    void (*digest)(struct sha3_ctx *ctx, size_t len, uint8_t *out);
};

static struct crypto_dl crypto;
static const struct crypto_dl *crypto_loaded;
static char crypto_failure[256];
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void crypto_load(void)
{
    static const char *const names[] = {
        "nettle_sha3_256_init",
        "nettle_sha3_256_update",
        "nettle_sha3_256_digest",
    };
    void *fn[sizeof(names) / sizeof(names[0])];
    void *lib = dlopen(NETTLE_SONAME, RTLD_NOW | RTLD_LOCAL);

    if (!lib) {
        snprintf(crypto_failure, sizeof(crypto_failure), "cannot load %s: %s", NETTLE_SONAME,
                 dlerror());
        return;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(fn[i] = dlsym(lib, names[i]))) {
            snprintf(crypto_failure, sizeof(crypto_failure), "%s has no %s", NETTLE_SONAME,
                     names[i]);
            dlclose(lib);
            return;
        }
    }
    /* (object to function pointers: POSIX guarantees dlsym's are usable) */
    memcpy(&crypto.init, &fn[0], sizeof(fn[0]));
    memcpy(&crypto.update, &fn[1], sizeof(fn[1]));
    memcpy(&crypto.digest, &fn[2], sizeof(fn[2]));
    crypto_loaded = &crypto;
}

/* ---- the Merkle probe ---- */

#define NODES (2 * QMERKLE_LEAVES - 1)

struct qmerkle {
    struct sha3_ctx ctx;
    uint32_t next_leaf;
    double ns_per_op; /* the previous round's cost; 0: none yet */
    /* level-major: the leaf hashes, then each level up to the root (last) */
    unsigned char node[NODES][QMERKLE_HASH];
};

/* Where level l starts in node[]. */
static size_t level_start(unsigned l)
{
    size_t at = 0;

    for (unsigned k = 0; k < l; k++)
        at += QMERKLE_LEAVES >> k;
    return at;
}

static int digest(struct qmerkle *m, const void *data, size_t len, unsigned char *out)
{
    crypto.init(&m->ctx);
    crypto.update(&m->ctx, len, data);
    crypto.digest(&m->ctx, QMERKLE_HASH, out);
    return 0;
}

/* 0x00 || leaf i (the little-endian 64-bit i, 8 times): 65 bytes into buf. */
static void leaf_input(uint32_t i, unsigned char *buf)
{
    buf[0] = 0x00;
    for (unsigned k = 0; k < 64; k++)
        buf[1 + k] = (unsigned char)(((uint64_t)i >> (8 * (k % 8))) & 0xff);
}

/* 0x01 || left || right into buf; then the parent into out. */
static int parent(struct qmerkle *m, const unsigned char *left, const unsigned char *right,
                  unsigned char *out)
{
    unsigned char buf[1 + 2 * QMERKLE_HASH];

    buf[0] = 0x01;
    memcpy(buf + 1, left, QMERKLE_HASH);
    memcpy(buf + 1 + QMERKLE_HASH, right, QMERKLE_HASH);
    return digest(m, buf, sizeof(buf), out);
}

static int build(struct qmerkle *m)
{
    unsigned char buf[65];

    for (uint32_t i = 0; i < QMERKLE_LEAVES; i++) {
        leaf_input(i, buf);
        if (digest(m, buf, sizeof(buf), m->node[i]) < 0)
            return -EIO;
    }
    for (unsigned l = 1; l <= QMERKLE_DEPTH; l++) {
        size_t below = level_start(l - 1), at = level_start(l);
        for (size_t i = 0; i < (size_t)(QMERKLE_LEAVES >> l); i++)
            if (parent(m, m->node[below + 2 * i], m->node[below + 2 * i + 1], m->node[at + i]) < 0)
                return -EIO;
    }
    return 0;
}

void qmerkle_free(struct qmerkle *m)
{
    free(m);
}

int qmerkle_new(struct qmerkle **ret_m, const char **ret_why)
{
    /* SHA3-256("abc"), FIPS 202's example */
    static const unsigned char abc[QMERKLE_HASH] = {0x3a, 0x98, 0x5d, 0xa7, 0x4f, 0xe2, 0x25, 0xb2,
                                                    0x04, 0x5c, 0x17, 0x2d, 0x6b, 0xd3, 0x90, 0xbd,
                                                    0x85, 0x5f, 0x08, 0x6e, 0x3e, 0x9d, 0x52, 0x5b,
                                                    0x46, 0xbf, 0xe2, 0x45, 0x11, 0x43, 0x15, 0x32};
    unsigned char out[QMERKLE_HASH];
    struct qmerkle *m;

    pthread_once(&crypto_once, crypto_load);
    if (!crypto_loaded) {
        if (ret_why)
            *ret_why = crypto_failure;
        return -ENOENT;
    }
    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    if (digest(m, "abc", 3, out) < 0 || memcmp(out, abc, sizeof(abc)) != 0) {
        if (ret_why)
            *ret_why = "Nettle's SHA3-256 gives a wrong answer for \"abc\"";
        qmerkle_free(m);
        return -EIO;
    }
    if (build(m) < 0) {
        if (ret_why)
            *ret_why = "SHA3-256 failed while building the tree";
        qmerkle_free(m);
        return -EIO;
    }
    *ret_m = m;
    return 0;
}

const unsigned char *qmerkle_root(const struct qmerkle *m)
{
    return m->node[NODES - 1];
}

int qmerkle_verify_proof(struct qmerkle *m, uint32_t leaf,
                         const unsigned char proof[QMERKLE_DEPTH][QMERKLE_HASH])
{
    unsigned char buf[65], h[QMERKLE_HASH];
    uint32_t idx = leaf % QMERKLE_LEAVES;

    leaf_input(idx, buf);
    if (digest(m, buf, sizeof(buf), h) < 0)
        return -EIO;
    for (unsigned l = 0; l < QMERKLE_DEPTH; l++, idx >>= 1) {
        int r = idx & 1 ? parent(m, proof[l], h, h) : parent(m, h, proof[l], h);
        if (r < 0)
            return r;
    }
    return memcmp(h, qmerkle_root(m), QMERKLE_HASH) == 0 ? 0 : -EIO;
}

int qmerkle_verify(struct qmerkle *m, uint32_t leaf)
{
    unsigned char proof[QMERKLE_DEPTH][QMERKLE_HASH];
    uint32_t idx = leaf % QMERKLE_LEAVES;

    /* the proof: the sibling at each level, leaf level first */
    for (unsigned l = 0; l < QMERKLE_DEPTH; l++, idx >>= 1)
        memcpy(proof[l], m->node[level_start(l) + (idx ^ 1)], QMERKLE_HASH);
    return qmerkle_verify_proof(m, leaf, (const unsigned char(*)[QMERKLE_HASH])proof);
}

int qmerkle_run(struct qmerkle *m, uint64_t budget_ns, struct qprobe_result *ret)
{
    double want = m->ns_per_op > 0 ? (double)budget_ns / m->ns_per_op : 64;
    uint64_t n = want < 16 ? 16 : want > 65536 ? 65536 : (uint64_t)want;
    uint64_t t0, t1;

    t0 = thread_cpu();
    for (uint64_t i = 0; i < n; i++)
        if (qmerkle_verify(m, m->next_leaf++) < 0)
            return -EIO;
    t1 = thread_cpu();
    if (!t0 || t1 <= t0)
        return -ENOTSUP;
    m->ns_per_op = (double)(t1 - t0) / (double)n;
    *ret = (struct qprobe_result){
        .rate = (double)n * 1e9 / (double)(t1 - t0), .units = n, .cpu_ns = t1 - t0};
    return 0;
}

/* ---- getrandom ---- */

int qprobe_getrandom(void *buf, size_t len, struct qprobe_result *ret)
{
    size_t got = 0;
    uint64_t t0, t1;

    t0 = thread_cpu();
    while (got < len) {
        ssize_t n = getrandom((char *)buf + got, len - got, GRND_NONBLOCK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    t1 = thread_cpu();
    if (!t0 || t1 <= t0)
        return -ENOTSUP;
    *ret = (struct qprobe_result){
        .rate = (double)len * 8 * 1e9 / (double)(t1 - t0), .units = len, .cpu_ns = t1 - t0};
    return 0;
}

/* ---- a window on a device or FIFO ---- */

#define IDLE_WAIT_MS 10

/* Waits up to ms for stop_fd (or just sleeps): true if it became readable. */
static bool wait_stop(int stop_fd, int ms)
{
    struct pollfd p = {.fd = stop_fd, .events = POLLIN};

    if (stop_fd < 0) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        return false;
    }
    return poll(&p, 1, ms) > 0;
}

int qprobe_window(const struct qwindow_args *a, struct qwindow_result *ret)
{
    struct qwindow_result r = {0};
    uint64_t cpu0 = thread_cpu(), t0, deadline, first = 0, last = 0, after_first = 0;
    size_t chunk = a->buf_len;

    /* the backlog: queued before the window, it says nothing of the rate now */
    while (r.backlog < a->max_bytes) {
        ssize_t n = read(a->fd, a->buf, chunk);
        if (n > 0) {
            r.backlog += (uint64_t)n;
            continue;
        }
        if (n == 0) {
            r.eof = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        return -errno;
    }

    t0 = mono_now();
    deadline = t0 + a->window_ns;
    for (;;) {
        struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN},
                              {.fd = a->stop_fd, .events = POLLIN}};
        uint64_t now = mono_now(), left_ms, got;
        bool ended;
        int pr;

        if (now >= deadline || r.bytes >= a->max_bytes)
            break;
        if (a->cpu_budget && thread_cpu() - cpu0 >= a->cpu_budget)
            break;
        left_ms = (deadline - now + 999999) / 1000000;
        pr = poll(p, a->stop_fd >= 0 ? 2 : 1, (int)(left_ms > 60000 ? 60000 : left_ms));
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (pr == 0)
            continue; /* (the deadline, checked above) */
        if (a->stop_fd >= 0 && (p[1].revents & POLLIN)) {
            r.stopped = true;
            break;
        }
        if (p[0].revents & POLLNVAL)
            return -EBADF;
        /* everything there now is one arrival, timed once */
        got = 0;
        ended = false;
        while (r.bytes + got < a->max_bytes) {
            uint64_t room = a->max_bytes - r.bytes - got;
            ssize_t n = read(a->fd, a->buf, room < chunk ? (size_t)room : chunk);
            if (n > 0) {
                got += (uint64_t)n;
                continue;
            }
            if (n == 0) {
                ended = true;
                break;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            break;
        }
        if (got) {
            uint64_t t = mono_now();
            if (r.arrivals++ == 0)
                first = t;
            else
                after_first += got;
            last = t;
            r.bytes += got;
            continue;
        }
        /* readable by poll() but nothing there (a device without poll support), or
         * no writer: wait a little rather than spin */
        if (ended)
            r.eof = true;
        now = mono_now();
        if (now < deadline) {
            uint64_t ms = (deadline - now + 999999) / 1000000;
            if (wait_stop(a->stop_fd, ms < IDLE_WAIT_MS ? (int)ms : IDLE_WAIT_MS)) {
                r.stopped = true;
                break;
            }
        }
    }
    r.elapsed_ns = mono_now() - t0;
    if (r.arrivals >= 2 && last > first)
        r.bits_per_sec = (double)after_first * 8 * 1e9 / (double)(last - first);
    else
        r.bits_per_sec = r.elapsed_ns ? (double)r.bytes * 8 * 1e9 / (double)r.elapsed_ns : 0;
    r.cpu_ns = thread_cpu() - cpu0;
    *ret = r;
    return 0;
}

/* ---- the probe thread ---- */

struct qprobe_dev {
    pthread_t thread;
    int stop_fd; /* eventfd: written once, to stop */
    int fd;      /* the source; -1: closed (the thread's) */
    char *path;
    void *buf;
    uint64_t interval_ns, window_ns, cpu_budget, max_bytes;
    _Atomic bool wanted;
    pthread_mutex_t lock; /* st */
    struct qprobe_dev_status st;
};

/* Opens the source: non-blocking, and a FIFO read-write where allowed (holding a
 * write end, it never reads as ended, nor polls as hung up, between writers). */
static int open_source(struct qprobe_dev *d)
{
    struct stat sb;
    int fd = open(d->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return -errno;
    if (fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode)) {
        int rw = open(d->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (rw >= 0) {
            close(fd);
            fd = rw;
        }
    }
    d->fd = fd;
    return 0;
}

static void publish(struct qprobe_dev *d, int error, const struct qwindow_result *w,
                    uint64_t cpu_ns)
{
    pthread_mutex_lock(&d->lock);
    d->st.rounds++;
    d->st.error = error;
    d->st.cpu_ns += cpu_ns;
    if (w) {
        d->st.last = *w;
        d->st.bits_per_sec = w->bits_per_sec;
        d->st.have_rate = true;
    } else {
        d->st.have_rate = false;
    }
    pthread_mutex_unlock(&d->lock);
}

/* One window; false when stopped in it. */
static bool round_once(struct qprobe_dev *d)
{
    struct qwindow_args a = {.fd = -1,
                             .stop_fd = d->stop_fd,
                             .buf = d->buf,
                             .buf_len = QPROBE_DEV_READ_BYTES,
                             .window_ns = d->window_ns,
                             .max_bytes = d->max_bytes,
                             .cpu_budget = d->cpu_budget};
    struct qwindow_result w;
    uint64_t cpu0 = thread_cpu();
    int r = 0;

    if (d->fd < 0)
        r = open_source(d);
    if (r == 0) {
        a.fd = d->fd;
        r = qprobe_window(&a, &w);
        if (r == 0 && w.stopped)
            return false;
        if (r < 0) {
            close(d->fd); /* reopened next round */
            d->fd = -1;
        }
    }
    publish(d, r, r == 0 ? &w : NULL, thread_cpu() - cpu0);
    return true;
}

static void *dev_main(void *arg)
{
    struct qprobe_dev *d = arg;

    for (;;) {
        uint64_t start = mono_now(), now, wait_ms;
        if (atomic_load_explicit(&d->wanted, memory_order_relaxed) && !round_once(d))
            break;
        now = mono_now();
        wait_ms =
            now - start >= d->interval_ns ? 0 : (start + d->interval_ns - now + 999999) / 1000000;
        if (wait_stop(d->stop_fd, (int)wait_ms))
            break;
    }
    return NULL;
}

int qprobe_dev_start(const struct qprobe_dev_args *args, struct qprobe_dev **ret_dev)
{
    struct qprobe_dev *d = calloc(1, sizeof(*d));
    pthread_attr_t attr;
    sigset_t all, old;
    int r;

    if (!d)
        return -ENOMEM;
    d->fd = -1;
    d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    d->path = strdup(args->path);
    d->buf = malloc(QPROBE_DEV_READ_BYTES);
    if (d->stop_fd < 0 || !d->path || !d->buf) {
        r = d->stop_fd < 0 ? -errno : -ENOMEM;
        goto fail;
    }
    d->interval_ns = (uint64_t)args->interval_ms * 1000000ull;
    d->window_ns = (uint64_t)args->window_ms * 1000000ull;
    d->cpu_budget = args->cpu_budget_ns;
    d->max_bytes = args->max_bytes ? args->max_bytes : QPROBE_DEV_MAX_BYTES;
    atomic_init(&d->wanted, true);
    pthread_mutex_init(&d->lock, NULL);

    pthread_attr_init(&attr);
    /* a small stack: the thread calls poll, read and clock_gettime, nothing deep */
    if (pthread_attr_setstacksize(&attr, QPROBE_DEV_STACK) != 0)
        pthread_attr_setstacksize(&attr, 4 * QPROBE_DEV_STACK);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = -pthread_create(&d->thread, &attr, dev_main, d);
    if (r == -EINVAL) {
        /* (a libc whose static TLS does not fit the small stack) */
        pthread_attr_setstacksize(&attr, 4 * QPROBE_DEV_STACK);
        r = -pthread_create(&d->thread, &attr, dev_main, d);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (r < 0) {
        pthread_mutex_destroy(&d->lock);
        goto fail;
    }
    *ret_dev = d;
    return 0;
fail:
    if (d->stop_fd >= 0)
        close(d->stop_fd);
    free(d->path);
    free(d->buf);
    free(d);
    return r;
}

void qprobe_dev_stop(struct qprobe_dev *d)
{
    uint64_t one = 1;

    if (!d)
        return;
    while (write(d->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    pthread_join(d->thread, NULL);
    if (d->fd >= 0)
        close(d->fd);
    close(d->stop_fd);
    pthread_mutex_destroy(&d->lock);
    free(d->path);
    free(d->buf);
    free(d);
}

void qprobe_dev_set_wanted(struct qprobe_dev *d, bool wanted)
{
    atomic_store_explicit(&d->wanted, wanted, memory_order_relaxed);
}

void qprobe_dev_status(struct qprobe_dev *d, struct qprobe_dev_status *ret)
{
    pthread_mutex_lock(&d->lock);
    *ret = d->st;
    pthread_mutex_unlock(&d->lock);
}

uint64_t qprobe_dev_thread_cpu_ns(struct qprobe_dev *d)
{
    clockid_t id;

    if (pthread_getcpuclockid(d->thread, &id) != 0)
        return 0;
    return clock_ns(id);
}
