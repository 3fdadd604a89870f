/*
 * The routes of the HTTP server and their answers, apart from the transport
 * (http.c): a request comes in as method + raw target + a few headers, and
 * goes out as status + content type + body. Kept free of libmicrohttpd so the
 * routing and parameter checks can be fuzzed and unit-tested directly.
 */
#ifndef AM_SERVE_HANDLERS_H
#define AM_SERVE_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "core/config.h"
#include "core/monitor.h"
#include "query.h"

enum route_id {
    ROUTE_HEALTHZ,
    ROUTE_METRICS,
    ROUTE_SNAPSHOT,
    ROUTE_HISTORY,
    ROUTE_ANOMALIES,
    ROUTE_REPORT,
    ROUTE_CONFIG,
    ROUTE_INDEX,
    ROUTE_QUERY,
    ROUTE_ALERTS,
    ROUTE_CUSTOM,
};

struct route {
    const char *path;
    enum route_id id;
    bool open;                 /* served without credentials */
    const char *const *params; /* the query parameters it takes (NULL-terminated) */
};

/* The route for a decoded path, or NULL. */
const struct route *route_find(const char *path);

/* The parameters of a request, checked. */
struct api_params {
    uint64_t limit;
    uint8_t min_severity;
    bool has_from, has_to;
    double from, to; /* epoch seconds */
    bool text;       /* a plain-text rendering was asked for */
    /* /api/v1/query */
    const char *series; /* inside the httpq the params came from */
    double step;        /* seconds; 0: every sample */
    int agg;            /* enum store_agg */
    /* /api/v1/report */
    int report_format; /* enum report_format */
};

/* Checks q's parameters for route r; 0, or -EINVAL with q->error set. */
int api_params_parse(const struct route *r, struct httpq *q, uint32_t max_page,
                     struct api_params *p);

/* What the transport needs to answer. */
struct api_response {
    unsigned status;
    const char *content_type;
    struct strbuf body;
    const char *allow;       /* for 405 */
    const char *retry_after; /* for 429 */
    bool dashboard;          /* a dashboard file: its Content-Security-Policy */
};

/* What the handlers read. */
struct store;
struct statsd_server;
struct alert_dispatch;

struct api_context {
    struct monitor *mon;
    struct alert_dispatch *alerts; /* NULL: no alert delivery */
    struct store *store;           /* NULL: no history on disk */
    struct statsd_server *statsd;  /* NULL: no StatsD server */
    const struct config *cfg;      /* the server's copy */
    const char *version;
    double start_time; /* epoch seconds */
    uint64_t requests, rejected, scrapes, auth_failures, deadline_closed;
};

/* Serves one request already routed and checked. res->body is initialised by the caller. */
void api_handle(const struct api_context *ctx, const struct route *r, const struct api_params *p,
                const char *accept, struct api_response *res);

/* An error answer: {"error": msg}. */
void api_error(struct api_response *res, unsigned status, const char *msg);

#endif
