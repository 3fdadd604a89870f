/*
 * The StatsD/DogStatsD server: a thread that receives datagrams on a UDP
 * socket and/or a Unix datagram socket (recvmmsg, in batches), parses their
 * lines (statsd_parse.h) and records them into an aggregate (agg.h).
 *
 * Malformed lines are counted per reason and dropped; a bad line never
 * affects the other lines of its datagram. Events and service checks are
 * counted and ignored.
 */
#ifndef AM_INGEST_STATSD_SERVER_H
#define AM_INGEST_STATSD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/agg.h"
#include "ingest/statsd_parse.h"

struct statsd_server_options {
    const char *listen;      /* UDP "HOST:PORT" ("[::1]:8125" for IPv6); NULL or "": none */
    const char *unix_socket; /* a Unix datagram socket's path; NULL or "": none */
    uint32_t rcvbuf_bytes;   /* SO_RCVBUF asked for (0: 32 MiB) */
    struct agg *agg;         /* where the values go */
};

struct statsd_server_stats {
    uint64_t datagrams;
    uint64_t lines;     /* metric lines recorded */
    uint64_t malformed; /* lines dropped, all reasons */
    uint64_t reasons[STATSD_E_COUNT];
    uint64_t ignored;      /* events and service checks */
    uint64_t refused;      /* well-formed lines not recorded (series limit, type clash) */
    uint32_t rcvbuf_bytes; /* what the kernel granted the UDP socket (0: none) */
};

struct statsd_server;

/* Opens the sockets and starts the thread. -errno (the address in use, a bad
 * address: -EINVAL) with nothing left open. */
int statsd_server_start(struct statsd_server **ret, const struct statsd_server_options *opt);
/* Stops the thread, closes the sockets (and removes the Unix socket's file).
 * Accepts NULL. */
void statsd_server_stop(struct statsd_server *s);
void statsd_server_get_stats(struct statsd_server *s, struct statsd_server_stats *ret);

/* A server without sockets or thread, for statsd_server_datagram() (the
 * fuzzer, the tests); statsd_server_stop() frees it. NULL: out of memory. */
struct statsd_server *statsd_server_detached(struct agg *a);
/* Records every line of one datagram, as the server's thread does. */
void statsd_server_datagram(struct statsd_server *s, const char *buf, size_t len);

#endif
