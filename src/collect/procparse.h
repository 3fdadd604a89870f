/*
 * Parsers for the kernel files the host collectors read. Pure: no I/O, no
 * allocation, no global state; each takes a buffer and its length (the buffer
 * need not be NUL-terminated) and fills a caller-owned struct. Malformed input
 * yields a negative errno or leaves the affected fields marked absent; it never
 * reads outside [buf, buf + len). Thread-safe. Driven directly by the unit tests
 * and the fuzz target.
 */
#ifndef AM_COLLECT_PROCPARSE_H
#define AM_COLLECT_PROCPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- /proc/stat ---- */

enum {
    CPU_USER,
    CPU_NICE,
    CPU_SYSTEM,
    CPU_IDLE,
    CPU_IOWAIT,
    CPU_IRQ,
    CPU_SOFTIRQ,
    CPU_STEAL,
    CPU_GUEST,
    CPU_GUEST_NICE,
    CPU_NFIELDS,
};

struct cpu_times {
    uint64_t v[CPU_NFIELDS];
    unsigned nfields; /* how many the kernel gave (older kernels: fewer) */
};

#define PP_MAX_CPUS 8192

/*
 * /proc/stat: the aggregate "cpu" line into *total and each "cpuN" line into
 * cores[N] (N < max_cores) with online[N] set. ret_max_id is one past the highest
 * N seen (may exceed max_cores: the caller grows its arrays and parses again).
 * -EINVAL if the aggregate line is missing or malformed.
 */
int pp_stat(const char *buf, size_t len, struct cpu_times *total, struct cpu_times *cores,
            bool *online, unsigned max_cores, unsigned *ret_max_id);

/* ---- /proc/meminfo ---- */

enum {
    MI_MEMTOTAL,
    MI_MEMFREE,
    MI_MEMAVAILABLE,
    MI_BUFFERS,
    MI_CACHED,
    MI_SWAPTOTAL,
    MI_SWAPFREE,
    MI_COMMITTED_AS,
    MI_NFIELDS,
};

struct meminfo {
    uint64_t kb[MI_NFIELDS];
    unsigned present; /* bit i: kb[i] was found */
};

int pp_meminfo(const char *buf, size_t len, struct meminfo *ret);

/* ---- /proc/diskstats ---- */

struct diskstat {
    unsigned major, minor;
    char name[32];
    uint64_t reads, sectors_read, writes, sectors_written;
};

typedef void (*pp_diskstat_fn)(void *ctx, const struct diskstat *d);
/* Calls fn for each well-formed line; returns the number of malformed lines skipped. */
int pp_diskstats(const char *buf, size_t len, pp_diskstat_fn fn, void *ctx);

/* ---- /proc/net/dev ---- */

struct netdev {
    char name[32];
    uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
};

typedef void (*pp_netdev_fn)(void *ctx, const struct netdev *d);
/* Calls fn for each interface line; returns the number of malformed lines skipped. */
int pp_net_dev(const char *buf, size_t len, pp_netdev_fn fn, void *ctx);

/* ---- /proc/net/snmp, /proc/net/sockstat ---- */

struct tcp_snmp {
    uint64_t out_segs, retrans_segs;
    uint64_t active_opens, passive_opens, curr_estab; /* 0 when the kernel lacks them */
};

/* The Tcp: header/value pair; -ENOENT if absent, -EINVAL if malformed. */
int pp_net_snmp_tcp(const char *buf, size_t len, struct tcp_snmp *ret);
/* "sockets: used N"; -ENOENT if absent. */
int pp_sockstat_used(const char *buf, size_t len, uint64_t *ret_used);

/* ---- /proc/PID/stat ---- */

struct pid_stat {
    char comm[64];
    char state;
    uint64_t utime, stime; /* clock ticks */
    uint64_t starttime;    /* clock ticks after boot */
    uint64_t vsize;        /* bytes */
    uint64_t rss;          /* pages */
};

int pp_pid_stat(const char *buf, size_t len, struct pid_stat *ret);

/* ---- /proc/cpuinfo ---- */

/* Sum and count of the "cpu MHz" lines; -ENOENT if there are none. */
int pp_cpuinfo_mhz(const char *buf, size_t len, double *ret_sum, unsigned *ret_count);

/* ---- /proc/net/tcp, /proc/net/tcp6 ---- */

struct tcp_conn {
    unsigned local_port, remote_port, state;
};

typedef void (*pp_tcp_fn)(void *ctx, const struct tcp_conn *c);
/* Calls fn for each socket line; returns the number of malformed lines skipped. */
int pp_net_tcp(const char *buf, size_t len, pp_tcp_fn fn, void *ctx);

/* ---- small sysfs values ---- */

/* One integer, optional surrounding blanks and a trailing newline ("2445406\n"). */
int pp_single_u64(const char *buf, size_t len, uint64_t *ret);
int pp_single_i64(const char *buf, size_t len, int64_t *ret);

/* ---- counters ---- */

/*
 * Increase of a kernel counter from prev to cur. A decrease is either a 32-bit
 * wrap (prev fits in 32 bits: delta counts through 2^32) or a reset (the device
 * was re-created: delta = cur, as Prometheus's rate() assumes). ret_reset tells
 * which, so the caller can log it.
 */
uint64_t counter_delta(uint64_t prev, uint64_t cur, bool *ret_reset);

#endif
