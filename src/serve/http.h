/*
 * The daemon's HTTP server (libmicrohttpd): the JSON API, /metrics, /healthz,
 * with access control, optional TLS and the limits that keep it alive under
 * abuse: a connection cap, an idle timeout, a deadline for a request's headers
 * however slowly they trickle in (slowloris), header and URL size caps, and
 * bounded responses.
 *
 * http_server_start() binds agent.listen_address:visualization.dashboard_port
 * and serves from its own threads until http_server_stop(). The routes and
 * their answers are in handlers.c.
 */
#ifndef AM_SERVE_HTTP_H
#define AM_SERVE_HTTP_H

#include <stdint.h>

#include "common/strbuf.h"
#include "core/config.h"
#include "core/monitor.h"

struct http_server;

/* Counters the server keeps (also exported on /metrics). */
struct http_counters {
    _Atomic uint64_t requests;
    _Atomic uint64_t rejected; /* 4xx answers */
    _Atomic uint64_t scrapes;
    _Atomic uint64_t auth_failures;
    _Atomic uint64_t deadline_closed; /* connections closed for slow headers */
};

/* What outlives a server restart (a reload): the counters and the start time. */
struct store;
struct statsd_server;
struct alert_dispatch;

struct http_shared {
    struct http_counters ctr;
    double start_time;             /* epoch seconds the agent started */
    struct store *store;           /* the history database, or NULL */
    struct statsd_server *statsd;  /* the StatsD server, or NULL */
    struct alert_dispatch *alerts; /* alert delivery, or NULL */
};

void http_shared_init(struct http_shared *shared);

/*
 * Starts serving mon with cfg (copied). On failure returns -errno and appends
 * one line to errs (address in use, unreadable certificate...).
 */
int http_server_start(struct http_server **ret, struct monitor *mon, const struct config *cfg,
                      struct http_shared *shared, struct strbuf *errs);

/*
 * Replaces *srv with a server for cfg. On the same address and port the
 * listening socket is handed over, so no connection is refused meanwhile;
 * otherwise the old one is stopped first. If the new config cannot be served,
 * returns -errno with a line in errs and *srv serves the old config again
 * (NULL, if even that failed).
 */
int http_server_reload(struct http_server **srv, const struct config *cfg, struct strbuf *errs);
/* The port actually bound (differs from the config's when that is 0). */
uint16_t http_server_port(const struct http_server *srv);
/* Stops the threads, closes every connection, frees. Accepts NULL. */
void http_server_stop(struct http_server *srv);

#endif
