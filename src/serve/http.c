#define LOG_MODULE "http"
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arthamon/arthamon.h"
#include "auth.h"
#include "core/log.h"
#include "core/sampler.h"
#include "assets.h"
#include "handlers.h"

#define RESPONSE_MAX   ((size_t)64 << 20) /* a history page of the largest snapshots fits */
#define PEM_MAX        ((size_t)1 << 20)
#define REAPER_TICK_NS 500000000ull

/* One open connection, for the header deadline. */
struct conn_track {
    struct conn_track *prev, *next;
    int fd;
    uint64_t deadline_ns; /* the request's headers must be in by then */
    bool waiting;         /* for a request's headers */
    bool idle;            /* between requests on a kept-alive connection */
    bool shut;            /* the reaper shut it down */
};

#define AUTH_CACHE     8
#define AUTH_CACHE_TTL (600 * 1000000000ull)

/* A basic credential that passed crypt(3): its HMAC under a per-server random
 * key, so that the password itself is never kept. */
struct auth_hit {
    uint8_t mac[32];
    uint64_t expires_ns;
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct monitor *mon;
    struct config cfg;
    struct http_shared *shared; /* counters and start time, across restarts */
    char *token;                /* bearer token (config or file); NULL: none */
    bool auth_on;
    char *cert_pem, *key_pem;
    int listen_fd;   /* ours; libmicrohttpd gets a duplicate */
    int quiesced_fd; /* the duplicate handed back by MHD_quiesce_daemon() */
    int family;
    uint16_t port;
    _Atomic bool started;
    pthread_mutex_t err_lock;
    char start_error[256];

    pthread_mutex_t crypt_lock; /* one crypt(3) at a time; others are told to retry */
    pthread_mutex_t cache_lock;
    uint8_t cache_key[32];
    struct auth_hit cache[AUTH_CACHE];

    pthread_mutex_t lock; /* the connection list */
    struct conn_track conns;
    pthread_t reaper;
    pthread_cond_t reaper_wake;
    bool reaper_started, reaper_stop;
    _Atomic int64_t last_auth_log;
};

enum conn_event { EV_ACCEPTED, EV_REQUEST_LINE, EV_HEADERS, EV_ANSWERED };

/* Per request: the raw target as sent, before libmicrohttpd decodes it. */
struct req {
    bool too_long;
    bool headers_seen;
    bool answered;
    char target[];
};

static double now_epoch(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- libmicrohttpd callbacks ---- */

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *srv = cls;
    char msg[256];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (!atomic_load(&srv->started)) {
        pthread_mutex_lock(&srv->err_lock);
        snprintf(srv->start_error, sizeof(srv->start_error), "%s", msg);
        pthread_mutex_unlock(&srv->err_lock);
    }
    log_debug("libmicrohttpd: %s", msg);
}

static struct conn_track *track_of(struct MHD_Connection *c);
static void conn_event(struct http_server *srv, struct conn_track *t, enum conn_event ev);

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    size_t n = strnlen(uri, HTTPQ_MAX_TARGET + 1);
    struct req *rq = malloc(sizeof(*rq) + (n > HTTPQ_MAX_TARGET ? 0 : n) + 1);

    conn_event(cls, track_of(c), EV_REQUEST_LINE);
    if (!rq)
        return NULL;
    rq->answered = false;
    rq->headers_seen = false;
    rq->too_long = n > HTTPQ_MAX_TARGET;
    if (rq->too_long)
        n = 0;
    memcpy(rq->target, uri, n);
    rq->target[n] = '\0';
    return rq;
}

static struct conn_track *track_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static uint64_t sec_ns(uint32_t sec)
{
    return (uint64_t)sec * 1000000000ull;
}

/*
 * The header deadline of a connection:
 *   accepted            request_timeout from now
 *   request line seen   no later than request_timeout from now
 *   headers complete    none (the request is being served)
 *   answer sent         keep-alive: the next request line may take idle_timeout
 *                       (the same silence libmicrohttpd allows), its headers
 *                       then request_timeout
 */
static void conn_event(struct http_server *srv, struct conn_track *t, enum conn_event ev)
{
    uint64_t now = mono_ns(), req = sec_ns(srv->cfg.http.request_timeout_sec);
    uint64_t idle = sec_ns(srv->cfg.http.idle_timeout_sec);

    if (!t)
        return;
    pthread_mutex_lock(&srv->lock);
    switch (ev) {
    case EV_ACCEPTED:
        t->waiting = true;
        t->idle = false;
        t->deadline_ns = now + req;
        break;
    case EV_REQUEST_LINE:
        if (!t->waiting || t->deadline_ns > now + req)
            t->deadline_ns = now + req;
        t->waiting = true;
        t->idle = false;
        break;
    case EV_HEADERS:
        t->waiting = false;
        break;
    case EV_ANSWERED:
        t->waiting = true;
        t->idle = true;
        t->deadline_ns = now + (idle > req ? idle : req) + req;
        break;
    }
    pthread_mutex_unlock(&srv->lock);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *srv = cls;
    struct conn_track *t = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        t = calloc(1, sizeof(*t));
        if (!t || !ci) {
            free(t);
            return; /* untracked: only the idle timeout applies */
        }
        t->fd = ci->connect_fd;
        conn_event(srv, t, EV_ACCEPTED);
        pthread_mutex_lock(&srv->lock);
        t->next = srv->conns.next;
        t->prev = &srv->conns;
        srv->conns.next->prev = t;
        srv->conns.next = t;
        pthread_mutex_unlock(&srv->lock);
        *socket_context = t;
        return;
    }
    if (!t)
        return;
    /* called before libmicrohttpd closes the descriptor: once unlinked, the
     * reaper can no longer shut down a number the kernel may hand out again */
    pthread_mutex_lock(&srv->lock);
    t->prev->next = t->next;
    t->next->prev = t->prev;
    pthread_mutex_unlock(&srv->lock);
    free(t);
    *socket_context = NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
    conn_event(cls, track_of(c), EV_ANSWERED);
}

/* Closes connections whose request headers are overdue, however much they
 * trickle: libmicrohttpd's own timeout only counts silence. */
static void *reaper_main(void *arg)
{
    struct http_server *srv = arg;

    pthread_mutex_lock(&srv->lock);
    while (!srv->reaper_stop) {
        uint64_t now = mono_ns(), dl = now + REAPER_TICK_NS;
        struct timespec ts = {(time_t)(dl / 1000000000ull), (long)(dl % 1000000000ull)};

        for (struct conn_track *t = srv->conns.next; t != &srv->conns; t = t->next) {
            if (t->waiting && !t->shut && now > t->deadline_ns) {
                shutdown(t->fd, SHUT_RDWR);
                t->shut = true;
                atomic_fetch_add(&srv->shared->ctr.deadline_closed, 1);
            }
        }
        pthread_cond_timedwait(&srv->reaper_wake, &srv->lock, &ts);
    }
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

/* ---- access control ---- */

enum auth_verdict { AUTH_OK, AUTH_DENIED, AUTH_BUSY };

static void cred_mac(const struct http_server *srv, const struct auth_cred *cred, uint8_t mac[32])
{
    size_t ul = strlen(cred->user), pl = strlen(cred->secret);
    char buf[AUTH_MAX_USER + AUTH_MAX_SECRET + 2];

    memcpy(buf, cred->user, ul);
    buf[ul] = '\0'; /* user names hold no NUL: "a" + "bc" and "ab" + "c" differ */
    memcpy(buf + ul + 1, cred->secret, pl);
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, srv->cache_key, sizeof(srv->cache_key), buf, ul + 1 + pl,
                     mac);
    auth_wipe(buf, sizeof(buf));
}

/* A basic credential: a recent success is recognised by its HMAC; otherwise
 * crypt(3), one at a time, since each costs tens of milliseconds of CPU and a
 * client could otherwise keep every thread busy with wrong passwords. */
static enum auth_verdict check_basic(struct http_server *srv, const struct auth_cred *cred)
{
    const struct config *cfg = &srv->cfg;
    uint8_t mac[32];
    uint64_t now = mono_ns();
    bool hit = false, user_ok, pass_ok;
    size_t slot = 0;

    cred_mac(srv, cred, mac);
    pthread_mutex_lock(&srv->cache_lock);
    for (size_t i = 0; i < AUTH_CACHE; i++) {
        bool live = srv->cache[i].expires_ns > now;
        /* every slot is compared, live or not: the time does not depend on where a hit is */
        hit |= auth_ct_equal(srv->cache[i].mac, 32, mac, 32) & live;
        if (srv->cache[i].expires_ns < srv->cache[slot].expires_ns)
            slot = i;
    }
    pthread_mutex_unlock(&srv->cache_lock);
    if (hit)
        return AUTH_OK;
    if (pthread_mutex_trylock(&srv->crypt_lock) != 0)
        return AUTH_BUSY;
    /* both checks always run: the timing does not tell which failed */
    user_ok = auth_ct_equal(cred->user, strlen(cred->user), cfg->http.auth.basic_user,
                            strlen(cfg->http.auth.basic_user));
    pass_ok = auth_password_ok(cred->secret, cfg->http.auth.basic_password_hash);
    pthread_mutex_unlock(&srv->crypt_lock);
    if (!(user_ok && pass_ok))
        return AUTH_DENIED;
    pthread_mutex_lock(&srv->cache_lock);
    memcpy(srv->cache[slot].mac, mac, 32);
    srv->cache[slot].expires_ns = now + AUTH_CACHE_TTL;
    pthread_mutex_unlock(&srv->cache_lock);
    return AUTH_OK;
}

static enum auth_verdict authorized(struct http_server *srv, struct MHD_Connection *c,
                                    const struct route *r)
{
    const struct config *cfg = &srv->cfg;
    struct auth_cred cred;
    const char *hdr;
    enum auth_verdict v = AUTH_DENIED;

    if (!srv->auth_on || r->open || (r->id == ROUTE_METRICS && cfg->http.auth.metrics_open))
        return AUTH_OK;
    hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth_parse(hdr, &cred) == 0) {
        if (cred.scheme == AUTH_BEARER && srv->token) {
            if (auth_ct_equal(cred.secret, strlen(cred.secret), srv->token, strlen(srv->token)))
                v = AUTH_OK;
        } else if (cred.scheme == AUTH_BASIC && cfg->http.auth.basic_user) {
            v = check_basic(srv, &cred);
        }
    }
    auth_wipe(&cred, sizeof(cred));
    if (v == AUTH_DENIED) {
        int64_t now = (int64_t)now_epoch(), last = atomic_load(&srv->last_auth_log);
        uint64_t n = atomic_fetch_add(&srv->shared->ctr.auth_failures, 1) + 1;
        /* at most one line per 10 s, whatever a client tries */
        if (now - last >= 10 && atomic_compare_exchange_strong(&srv->last_auth_log, &last, now))
            log_warn("refused a request without valid credentials (%llu so far)",
                     (unsigned long long)n);
    }
    return v;
}

/* ---- answering ---- */

static enum MHD_Result send_response(struct http_server *srv, struct MHD_Connection *c,
                                     struct api_response *res)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    size_t len = res->body.len;
    char *body = strbuf_steal(&res->body);

    if (body)
        resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (res->dashboard) /* no inline script or style, nothing from elsewhere */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                                "base-uri 'none'; frame-ancestors 'none'; form-action 'none'");
    if (res->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, res->allow);
    if (res->retry_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, res->retry_after);
    if (res->status == 401) {
        if (srv->token)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                    "Bearer realm=\"arthamon\"");
        if (srv->cfg.http.auth.basic_user)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                    "Basic realm=\"arthamon\", charset=\"UTF-8\"");
    }
    if (res->status >= 400 && res->status < 500)
        atomic_fetch_add(&srv->shared->ctr.rejected, 1);
    ret = MHD_queue_response(c, res->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * The dashboard's files (web/, in the binary): "/" for a browser (one that
 * accepts text/html; other clients get the list of endpoints there) and
 * "/static/NAME". They ask for credentials as the API does, so that a browser
 * asks its user once and sends them along with the dashboard's API calls.
 * True when res holds the answer.
 */
static bool serve_asset(struct http_server *srv, struct MHD_Connection *c, const char *method,
                        const char *path, struct api_response *res)
{
    static const struct route dash = {"/", ROUTE_INDEX, false, NULL};
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    const struct web_asset *a;
    const char *type = NULL;

    if (!srv->cfg.visualization.dashboard_enabled)
        return false;
    if (!strcmp(path, "/") && !(accept && strstr(accept, "text/html")))
        return false;
    if (!(a = web_asset_for_path(path, &type)))
        return false;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        api_error(res, 405, "only GET and HEAD are served");
        res->allow = "GET, HEAD";
        return true;
    }
    switch (authorized(srv, c, &dash)) {
    case AUTH_OK:
        break;
    case AUTH_BUSY:
        api_error(res, 429, "another password is being checked; retry in a second");
        res->retry_after = "1";
        return true;
    case AUTH_DENIED:
        api_error(res, 401, "valid credentials required");
        return true;
    }
    strbuf_append(&res->body, (const char *)a->data, a->len);
    res->status = 200;
    res->content_type = type;
    res->dashboard = true;
    return true;
}

static void serve(struct http_server *srv, struct MHD_Connection *c, const char *method,
                  const struct req *rq, struct api_response *res)
{
    static __thread struct httpq q; /* 8 KB: off the connection thread's stack */
    const struct route *r;
    struct api_params p;
    struct api_context ctx;

    if (!rq) {
        api_error(res, 500, "out of memory");
        return;
    }
    if (rq->too_long) {
        api_error(res, 414, "request target too long");
        return;
    }
    if (httpq_parse(&q, rq->target, strlen(rq->target)) < 0) {
        api_error(res, 400, q.error);
        return;
    }
    if (serve_asset(srv, c, method, q.path, res))
        return;
    r = route_find(q.path);
    if (!r) {
        api_error(res, 404, "no such endpoint; GET / lists them");
        return;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        api_error(res, 405, "only GET and HEAD are served");
        res->allow = "GET, HEAD";
        return;
    }
    switch (authorized(srv, c, r)) {
    case AUTH_OK:
        break;
    case AUTH_BUSY:
        api_error(res, 429, "another password is being checked; retry in a second");
        res->retry_after = "1";
        return;
    case AUTH_DENIED:
        api_error(res, 401, "valid credentials required");
        return;
    }
    if (api_params_parse(r, &q, srv->cfg.http.max_history_page, &p) < 0) {
        api_error(res, 400, q.error);
        return;
    }
    if (r->id == ROUTE_METRICS)
        atomic_fetch_add(&srv->shared->ctr.scrapes, 1);
    ctx.mon = srv->mon;
    ctx.store = srv->shared->store;
    ctx.statsd = srv->shared->statsd;
    ctx.alerts = srv->shared->alerts;
    ctx.cfg = &srv->cfg;
    ctx.version = am_version();
    ctx.start_time = srv->shared->start_time;
    ctx.requests = atomic_load(&srv->shared->ctr.requests);
    ctx.rejected = atomic_load(&srv->shared->ctr.rejected);
    ctx.scrapes = atomic_load(&srv->shared->ctr.scrapes);
    ctx.auth_failures = atomic_load(&srv->shared->ctr.auth_failures);
    ctx.deadline_closed = atomic_load(&srv->shared->ctr.deadline_closed);
    api_handle(&ctx, r, &p, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"), res);
}

/* A request that announces a body (which we never read). */
static bool has_body(struct MHD_Connection *c)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (cl && strcmp(cl, "0") != 0) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/*
 * libmicrohttpd calls this once when the headers are in, then again (with the
 * body, if any, then with no data) until an answer is queued. An answer queued
 * on the first call makes it drop the request's remainder and close the
 * connection; so a request without a body is answered on the second call, and
 * the connection stays open for the next one. A request with a body is
 * answered at once (405 or 4xx: nothing here takes a body), and closed.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct req *rq = *con_cls;
    struct api_response res = {0};
    enum MHD_Result ret;

    (void)url;
    (void)version;
    (void)upload_data;
    if (rq && rq->answered) {
        *upload_data_size = 0; /* a body we did not ask for: dropped */
        return MHD_YES;
    }
    if (rq && !rq->headers_seen) {
        rq->headers_seen = true;
        conn_event(srv, track_of(c), EV_HEADERS);
        if (!has_body(c))
            return MHD_YES; /* answered on the next call, keeping the connection */
    }
    if (rq)
        rq->answered = true;
    else
        conn_event(srv, track_of(c), EV_HEADERS);
    atomic_fetch_add(&srv->shared->ctr.requests, 1);
    strbuf_init(&res.body, RESPONSE_MAX);
    serve(srv, c, method, rq, &res);
    if (res.body.overflow) /* cut short (too large, out of memory): never sent as if whole */
        api_error(&res, 500, "answer too large or out of memory");
    ret = send_response(srv, c, &res);
    strbuf_done(&res.body);
    return ret;
}

/* ---- start and stop ---- */

static char *read_small_file(const char *path, struct strbuf *errs, const char *what)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    ssize_t n;

    if (fd < 0 || fstat(fd, &st) < 0) {
        strbuf_printf(errs, "%s '%s': %s\n", what, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > PEM_MAX) {
        strbuf_printf(errs, "%s '%s': not a regular file of at most 1 MiB\n", what, path);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        strbuf_printf(errs, "%s: out of memory\n", what);
        goto out;
    }
    n = read(fd, buf, (size_t)st.st_size);
    if (n < 0) {
        strbuf_printf(errs, "%s '%s': %s\n", what, path, strerror(errno));
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[n] = '\0';
out:
    if (fd >= 0)
        close(fd);
    return buf;
}

static int load_secrets(struct http_server *srv, struct strbuf *errs)
{
    const struct config *cfg = &srv->cfg;

    if (cfg->http.auth.bearer_token) {
        srv->token = strdup(cfg->http.auth.bearer_token);
    } else if (cfg->http.auth.bearer_token_file) {
        char *t = read_small_file(cfg->http.auth.bearer_token_file, errs, "bearer token file");
        if (!t)
            return -EINVAL;
        size_t n;
        t[strcspn(t, "\r\n")] = '\0';
        n = strlen(t);
        while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            t[--n] = '\0';
        if (!config_token_ok(t)) {
            strbuf_printf(errs,
                          "bearer token file '%s': the first line must be a token of 1 to 1024 "
                          "characters from A-Z a-z 0-9 - . _ ~ + / (then optional '=')\n",
                          cfg->http.auth.bearer_token_file);
            auth_wipe(t, strlen(t));
            free(t);
            return -EINVAL;
        }
        srv->token = t;
    }
    srv->auth_on = srv->token || cfg->http.auth.basic_user;
    if (cfg->http.tls.cert_file) {
        struct stat st;
        srv->cert_pem = read_small_file(cfg->http.tls.cert_file, errs, "TLS certificate");
        srv->key_pem = read_small_file(cfg->http.tls.key_file, errs, "TLS key");
        if (!srv->cert_pem || !srv->key_pem)
            return -EINVAL;
        if (stat(cfg->http.tls.key_file, &st) == 0 && (st.st_mode & 077))
            log_warn("TLS key '%s' is readable by other users (mode %03o); chmod 600 it",
                     cfg->http.tls.key_file, st.st_mode & 0777);
    }
    return 0;
}

/* Binds and listens on agent.listen_address:dashboard_port ourselves, so that a
 * failure says plainly what went wrong and port 0 resolves to the real port. */
static int open_listener(struct http_server *srv, struct strbuf *errs)
{
    struct addrinfo hints = {0}, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char port[8];
    int r, fd, one = 1;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", srv->cfg.visualization.dashboard_port);
    r = getaddrinfo(srv->cfg.agent.listen_address, port, &hints, &ai);
    if (r != 0 || !ai) {
        strbuf_printf(errs, "agent.listen_address '%s': %s\n", srv->cfg.agent.listen_address,
                      r ? gai_strerror(r) : "no address");
        return -EINVAL;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        strbuf_printf(errs, "http: socket: %s\n", strerror(errno));
        freeaddrinfo(ai);
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        r = -errno;
        strbuf_printf(errs, "http: cannot serve on %s port %u: %s\n", srv->cfg.agent.listen_address,
                      srv->cfg.visualization.dashboard_port, strerror(errno));
        close(fd);
        freeaddrinfo(ai);
        return r;
    }
    srv->family = ai->ai_family;
    freeaddrinfo(ai);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    srv->listen_fd = fd;
    return 0;
}

static void free_server(struct http_server *srv)
{
    if (srv->token) {
        auth_wipe(srv->token, strlen(srv->token));
        free(srv->token);
    }
    if (srv->key_pem) {
        auth_wipe(srv->key_pem, strlen(srv->key_pem));
        free(srv->key_pem);
    }
    free(srv->cert_pem);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    if (srv->quiesced_fd >= 0)
        close(srv->quiesced_fd);
    auth_wipe(srv->cache_key, sizeof(srv->cache_key));
    config_done(&srv->cfg);
    pthread_cond_destroy(&srv->reaper_wake);
    pthread_mutex_destroy(&srv->lock);
    pthread_mutex_destroy(&srv->err_lock);
    pthread_mutex_destroy(&srv->crypt_lock);
    pthread_mutex_destroy(&srv->cache_lock);
    free(srv);
}

#define OPT(o, v, p)                                                    \
    (struct MHD_OptionItem)                                             \
    {                                                                   \
        .option = (o), .value = (intptr_t)(v), .ptr_value = (void *)(p) \
    }

/* True if fd still refers to the socket `ref` is open on (ref being open, the
 * socket cannot have been freed and its inode reused). */
static bool same_socket(int fd, int ref)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && fstat(ref, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* Starts libmicrohttpd on a duplicate of srv->listen_fd. */
static int start_daemon(struct http_server *srv, struct strbuf *errs)
{
    const struct config *cfg = &srv->cfg;
    struct MHD_OptionItem opts[20];
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    size_t n = 0;
    int dupfd = fcntl(srv->listen_fd, F_DUPFD_CLOEXEC, 3);

    if (dupfd < 0) {
        strbuf_printf(errs, "http: %s\n", strerror(errno));
        return -errno;
    }
    if (srv->family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (srv->cert_pem)
        flags |= MHD_USE_TLS;
    opts[n++] = OPT(MHD_OPTION_LISTEN_SOCKET, dupfd, NULL);
    opts[n++] = OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->http.max_connections, NULL);
    opts[n++] = OPT(MHD_OPTION_CONNECTION_TIMEOUT, cfg->http.idle_timeout_sec, NULL);
    /* the connection's memory pool holds the request line and headers, plus
     * the response headers: what is left over the cap is for those */
    opts[n++] =
        OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->http.max_header_bytes + 4096, NULL);
    opts[n++] = OPT(MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL);
    if (cfg->http.threads > 1)
        opts[n++] = OPT(MHD_OPTION_THREAD_POOL_SIZE, cfg->http.threads, NULL);
    opts[n++] = OPT(MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv);
    opts[n++] = OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv);
    opts[n++] = OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv);
    opts[n++] = OPT(MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv);
    if (srv->cert_pem) {
        opts[n++] = OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert_pem);
        opts[n++] = OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key_pem);
        opts[n++] = OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
                        "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE");
    }
    opts[n++] = OPT(MHD_OPTION_END, 0, NULL);

    srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, opts,
                                   MHD_OPTION_END);
    if (!srv->daemon) {
        /* libmicrohttpd closes the socket it was given on some failure paths
         * and not on others: close the duplicate only if it is still ours */
        if (same_socket(dupfd, srv->listen_fd))
            close(dupfd);
        pthread_mutex_lock(&srv->err_lock);
        strbuf_printf(errs, "http: cannot serve on %s port %u: %s\n", cfg->agent.listen_address,
                      srv->port,
                      srv->start_error[0] ? srv->start_error : "libmicrohttpd refused to start");
        pthread_mutex_unlock(&srv->err_lock);
        return -EINVAL;
    }
    atomic_store(&srv->started, true);
    return 0;
}

/* A server for cfg, not started, with its secrets loaded. */
static struct http_server *new_server(struct monitor *mon, const struct config *cfg,
                                      struct http_shared *shared, struct strbuf *errs)
{
    struct http_server *srv = calloc(1, sizeof(*srv));
    pthread_condattr_t ca;

    if (!srv)
        goto oom;
    if (config_copy(&srv->cfg, cfg) < 0) {
        free(srv);
        goto oom;
    }
    srv->mon = mon;
    srv->shared = shared;
    srv->listen_fd = srv->quiesced_fd = -1;
    srv->conns.next = srv->conns.prev = &srv->conns;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_mutex_init(&srv->err_lock, NULL);
    pthread_mutex_init(&srv->crypt_lock, NULL);
    pthread_mutex_init(&srv->cache_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->reaper_wake, &ca);
    pthread_condattr_destroy(&ca);
    if (getrandom(srv->cache_key, sizeof(srv->cache_key), 0) != (ssize_t)sizeof(srv->cache_key)) {
        strbuf_printf(errs, "http: getrandom: %s\n", strerror(errno));
        free_server(srv);
        return NULL;
    }
    if (load_secrets(srv, errs) < 0) {
        free_server(srv);
        return NULL;
    }
    return srv;
oom:
    strbuf_puts(errs, "http: out of memory\n");
    return NULL;
}

static void started(struct http_server *srv)
{
    if (pthread_create(&srv->reaper, NULL, reaper_main, srv) == 0)
        srv->reaper_started = true;
    else
        log_warn("no header-deadline thread: slow clients are bounded by the idle timeout only");
    log_info("serving %s://%s:%u/ (auth %s)", srv->cert_pem ? "https" : "http",
             srv->cfg.agent.listen_address, srv->port, srv->auth_on ? "on" : "off");
}

void http_shared_init(struct http_shared *shared)
{
    memset(shared, 0, sizeof(*shared));
    shared->start_time = now_epoch();
}

int http_server_start(struct http_server **ret, struct monitor *mon, const struct config *cfg,
                      struct http_shared *shared, struct strbuf *errs)
{
    struct http_server *srv = new_server(mon, cfg, shared, errs);
    int r;

    *ret = NULL;
    if (!srv)
        return -EINVAL;
    r = open_listener(srv, errs);
    if (r == 0)
        r = start_daemon(srv, errs);
    if (r < 0) {
        free_server(srv);
        return r;
    }
    started(srv);
    *ret = srv;
    return 0;
}

uint16_t http_server_port(const struct http_server *srv)
{
    return srv->port;
}

void http_server_stop(struct http_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    if (srv->reaper_started) {
        pthread_mutex_lock(&srv->lock);
        srv->reaper_stop = true;
        pthread_cond_signal(&srv->reaper_wake);
        pthread_mutex_unlock(&srv->lock);
        pthread_join(srv->reaper, NULL);
    }
    free_server(srv);
}

/* Whether cfg asks for the address and port srv is bound to (port 0, "any",
 * keeps the one picked before). */
static bool same_binding(const struct http_server *srv, const struct config *cfg)
{
    uint16_t want = cfg->visualization.dashboard_port;

    return strcmp(srv->cfg.agent.listen_address, cfg->agent.listen_address) == 0 &&
           (want == srv->port || want == srv->cfg.visualization.dashboard_port);
}

/* A server for cfg on old's listening socket (moved over on success). */
static struct http_server *take_over(struct http_server *old, const struct config *cfg,
                                     struct strbuf *errs)
{
    struct http_server *srv = new_server(old->mon, cfg, old->shared, errs);

    if (!srv)
        return NULL;
    srv->listen_fd = old->listen_fd;
    srv->family = old->family;
    srv->port = old->port;
    if (start_daemon(srv, errs) < 0) {
        srv->listen_fd = -1; /* still old's */
        free_server(srv);
        return NULL;
    }
    old->listen_fd = -1;
    started(srv);
    return srv;
}

/* Waits (up to 2 s) until no connection of srv is in the middle of a request:
 * just accepted, sending its request, or being answered. Kept-alive idle ones
 * are closed by the stop; their clients retry on a new connection. */
static void drain(struct http_server *srv)
{
    for (int i = 0; i < 200; i++) {
        struct timespec ts = {0, 10000000};
        bool busy = false;

        pthread_mutex_lock(&srv->lock);
        for (struct conn_track *t = srv->conns.next; t != &srv->conns && !busy; t = t->next)
            busy = !t->idle && !t->shut;
        pthread_mutex_unlock(&srv->lock);
        if (!busy)
            return;
        nanosleep(&ts, NULL);
    }
}

int http_server_reload(struct http_server **srvp, const struct config *cfg, struct strbuf *errs)
{
    struct http_server *old = *srvp, *srv;
    struct monitor *mon = old->mon;
    struct http_shared *shared = old->shared;
    int r;

    if (same_binding(old, cfg)) {
        /* the listening socket passes from the old daemon to the new one: no
         * moment without a listener; connections arriving meanwhile wait in
         * the backlog. The old daemon finishes what it is serving, then stops. */
        old->quiesced_fd = MHD_quiesce_daemon(old->daemon);
        srv = take_over(old, cfg, errs);
        r = srv ? 0 : -EINVAL;
        if (!srv) {
            struct strbuf ignore;
            strbuf_init(&ignore, 4096);
            srv = take_over(old, &old->cfg, &ignore);
            strbuf_done(&ignore);
        }
        drain(old);
        http_server_stop(old);
        *srvp = srv;
        return r;
    }
    /* a new address or port: the old one is released first (the new one may
     * overlap it, 0.0.0.0 over 127.0.0.1), then taken back if the new fails */
    {
        struct config keep;
        if (config_copy(&keep, &old->cfg) < 0) {
            strbuf_puts(errs, "http: out of memory\n");
            return -ENOMEM;
        }
        keep.visualization.dashboard_port = old->port; /* back where it was, even from port 0 */
        http_server_stop(old);
        r = http_server_start(&srv, mon, cfg, shared, errs);
        if (r < 0) {
            struct strbuf ignore;
            strbuf_init(&ignore, 4096);
            if (http_server_start(&srv, mon, &keep, shared, &ignore) < 0)
                srv = NULL;
            strbuf_done(&ignore);
        }
        config_done(&keep);
        *srvp = srv;
        return r;
    }
}
