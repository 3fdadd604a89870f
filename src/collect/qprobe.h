/*
 * The quantum collector's probes: what this host measures itself, each on a
 * small duty cycle (docs/metrics.md).
 *
 *   Merkle     SHA3-256 Merkle proof verifications per CPU-second, with
 *              Nettle's SHA3-256 loaded at run time (dlopen of libnettle.so.8,
 *              which the daemon already maps for GnuTLS: no build or link
 *              dependency, and no memory of its own).
 *   getrandom  the kernel's generator: a fixed read timed in CPU time.
 *   window     an entropy device or FIFO: what it delivers in a window,
 *              measured without blocking anything but the caller's thread.
 *   device     a thread that runs the window every interval, for a source
 *              that can block; the sampler only reads its latest result.
 *
 * The first two never block, and run on the caller's (the sampler's) thread,
 * within their CPU budget; the probe thread, which only a device needs,
 * allocates nothing after its start (a thread that allocates gets a glibc
 * arena of its own: 64 MiB of address space, about 250 KiB resident).
 *
 * Times are CLOCK_MONOTONIC for rates of a device (what it delivers per second
 * of real time) and CLOCK_THREAD_CPUTIME_ID for what is bound by the CPU
 * (getrandom, Merkle: a busy host does not lower them).
 */
#ifndef AM_COLLECT_QPROBE_H
#define AM_COLLECT_QPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the Merkle probe ----
 *
 * One operation is one inclusion-proof verification in a SHA3-256 Merkle tree
 * of QMERKLE_LEAVES leaves of 64 bytes (the tree of a block of 1024
 * transactions): the proof (QMERKLE_DEPTH sibling hashes) is read from the
 * tree, the leaf is hashed (SHA3-256 of 0x00 || leaf) and combined with each
 * sibling up to the root (SHA3-256 of 0x01 || left || right, RFC 9162's domain
 * separation), and the result is compared with the root: QMERKLE_DEPTH + 1
 * hashes of 65 bytes and a comparison. Leaf i is the little-endian 64-bit i
 * repeated 8 times; the tree is built once, when the probe is made.
 */
#define QMERKLE_LEAVES 1024
#define QMERKLE_DEPTH  10
#define QMERKLE_HASH   32

struct qmerkle;

/*
 * Loads Nettle (once per process; it stays loaded), checks SHA3-256 on a
 * known answer and builds the tree. 0 and *ret_m, which the caller owns and
 * frees with qmerkle_free(); -ENOENT when libnettle.so.8 cannot be loaded or
 * lacks a function, -EIO when SHA3-256 fails or gives a wrong answer (*ret_why
 * then says which, for one log line; static), -ENOMEM.
 */
int qmerkle_new(struct qmerkle **ret_m, const char **ret_why);
/* Accepts NULL. */
void qmerkle_free(struct qmerkle *m);

/* The tree's root (QMERKLE_HASH bytes, owned by m). */
const unsigned char *qmerkle_root(const struct qmerkle *m);

/* One operation, on leaf (leaf % QMERKLE_LEAVES): 0 when the proof verifies,
 * -EIO when it does not or a digest call fails. */
int qmerkle_verify(struct qmerkle *m, uint32_t leaf);

/* One operation on a proof the caller may have altered: 0 when proof (QMERKLE_DEPTH
 * sibling hashes, leaf level first) proves leaf against the root, -EIO otherwise. */
int qmerkle_verify_proof(struct qmerkle *m, uint32_t leaf,
                         const unsigned char proof[QMERKLE_DEPTH][QMERKLE_HASH]);

struct qprobe_result {
    double rate;     /* operations (Merkle) or bits (getrandom, window) per second */
    uint64_t units;  /* operations or bytes measured */
    uint64_t cpu_ns; /* CPU time the probe took on its thread */
};

/*
 * A round: about budget_ns of CPU time worth of operations (the count is taken
 * from the previous round's cost; at least 16, at most 65536), timed together
 * in CLOCK_THREAD_CPUTIME_ID; rate is operations per CPU-second. 0 and *ret;
 * -EIO when an operation fails; -ENOTSUP when the thread's CPU clock cannot
 * be read.
 */
int qmerkle_run(struct qmerkle *m, uint64_t budget_ns, struct qprobe_result *ret);

/* ---- the kernel's generator ---- */

#define QPROBE_GETRANDOM_BYTES 32768

/*
 * Reads len bytes (at most QPROBE_GETRANDOM_BYTES is usual) from getrandom()
 * into buf without blocking and times it in CPU time: rate is bits per
 * CPU-second. 0 and *ret; -EAGAIN before the kernel's pool is initialised;
 * -ENOTSUP when the CPU clock reads no time; -errno of getrandom.
 */
int qprobe_getrandom(void *buf, size_t len, struct qprobe_result *ret);

/* ---- a window on a device or FIFO ---- */

struct qwindow_args {
    int fd;              /* non-blocking, readable */
    int stop_fd;         /* readable ends the window at once (an eventfd); -1: none */
    void *buf;           /* read buffer */
    size_t buf_len;      /* bytes per read */
    uint64_t window_ns;  /* the window's length */
    uint64_t max_bytes;  /* ends the window early, and caps the backlog drained before it */
    uint64_t cpu_budget; /* ns of this thread's CPU time that end the window early; 0: none */
};

struct qwindow_result {
    double bits_per_sec;
    uint64_t bytes;      /* read in the window, backlog excluded */
    uint64_t backlog;    /* drained before the window */
    uint64_t arrivals;   /* reads that returned data in the window */
    uint64_t elapsed_ns; /* the window as it ran */
    uint64_t cpu_ns;     /* this thread's CPU time, drain and window */
    bool stopped;        /* stop_fd ended it */
    bool eof;            /* the source had no writer (or ended) at some point */
};

/*
 * What the source delivers: first the backlog is drained without blocking (a
 * source read rarely has queued data that says nothing of its rate now), then
 * reads wait in poll() until the window ends, max_bytes are read or cpu_budget
 * is spent. With two arrivals or more, the rate is the bytes after the first
 * arrival over the time from the first to the last (exact for a source that
 * writes periodically, whatever the phase of its writes against the window);
 * with fewer, the bytes over the window's time (0 when nothing came). A read
 * that finds nothing although poll() said it would (a device without poll
 * support) or end of file (a FIFO without a writer) waits 10 ms instead of
 * spinning. Allocates nothing. 0 and *ret; -errno of read() or poll().
 */
int qprobe_window(const struct qwindow_args *a, struct qwindow_result *ret);

/* ---- the probe thread for a device or FIFO ---- */

struct qprobe_dev_args {
    const char *path;       /* copied */
    uint32_t interval_ms;   /* between the starts of two windows */
    uint32_t window_ms;     /* the window's length */
    uint64_t cpu_budget_ns; /* per window; 0: none */
    uint64_t max_bytes;     /* per window; 0: QPROBE_DEV_MAX_BYTES */
};

#define QPROBE_DEV_MAX_BYTES  65536
#define QPROBE_DEV_READ_BYTES 4096
#define QPROBE_DEV_STACK      (64 * 1024)

struct qprobe_dev;

/*
 * Starts the thread (64 KiB of stack, every signal blocked) that opens path
 * (non-blocking; a FIFO read-write where it may, so that it never reads as
 * ended between writers, and kept open) and runs a window at once and then
 * every interval, reopening the path after a failure. Everything it needs is
 * allocated here, on the caller's thread. 0 and *ret_dev, which the caller
 * owns and stops with qprobe_dev_stop(); -ENOMEM, or -errno of pthread_create.
 */
int qprobe_dev_start(const struct qprobe_dev_args *args, struct qprobe_dev **ret_dev);

/* Stops the thread (at once, also mid-window), joins it and frees everything. Accepts NULL. */
void qprobe_dev_stop(struct qprobe_dev *d);

/* While false the thread skips its windows (the node reports the figure). */
void qprobe_dev_set_wanted(struct qprobe_dev *d, bool wanted);

struct qprobe_dev_status {
    uint64_t rounds;     /* windows run (a result or an error) */
    int error;           /* of the latest round: 0, or -errno (open, read, poll) */
    bool have_rate;      /* a rate was measured (it stays until an error) */
    double bits_per_sec; /* the latest rate */
    struct qwindow_result last;
    uint64_t cpu_ns; /* CPU time of all rounds, as the thread measured it */
};

/* The latest results (a consistent copy, under the thread's lock). Any thread. */
void qprobe_dev_status(struct qprobe_dev *d, struct qprobe_dev_status *ret);

/* The thread's whole CPU time from its own clock (pthread_getcpuclockid), start-up
 * and sleeps included: an independent check of cpu_ns. 0 when unreadable. */
uint64_t qprobe_dev_thread_cpu_ns(struct qprobe_dev *d);

#endif
