#define LOG_MODULE "run"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "alert/dispatch.h"
#include "arthamon/arthamon.h"
#include "cli.h"
#include "core/monitor.h"
#include "ingest/agg.h"
#include "ingest/statsd_server.h"
#include "serve/http.h"
#include "serve/summary.h"
#include "store/store.h"

/* What the sampler thread does with each snapshot (set before start, changed on reload). */
static _Atomic bool print_summary;
static struct store *history; /* NULL: no history on disk */
static char history_path[4096];
static int64_t last_store_log;  /* when the last append error was logged, epoch seconds */
static uint64_t store_failures; /* appends failed since that line */
static bool store_logged;       /* an error line since the last "writing again" */

static struct alert_dispatch *alerts; /* alert delivery (NULL: could not start) */

static uint64_t anomaly_seq; /* the anomaly log's last change saved */
static bool anomaly_save_failed;

static void save_anomaly(void *ctx, const struct anomaly *a)
{
    int r = store_put_anomaly(history, a);

    (void)ctx;
    if (r < 0 && !anomaly_save_failed) {
        log_error("history: cannot save anomaly %s (%s); retrying every tick", a->id, strerror(-r));
        anomaly_save_failed = true;
    }
}

/* Saves what changed in the anomaly log since the last tick; on failure the
 * same changes are saved again next tick (a save replaces by id). */
static void save_anomalies(struct monitor *m)
{
    uint64_t seq;
    bool failed_before = anomaly_save_failed;

    anomaly_save_failed = false;
    seq = anomaly_log_changes(monitor_anomalies(m), anomaly_seq, save_anomaly, NULL);
    if (!anomaly_save_failed) {
        anomaly_seq = seq;
        if (failed_before)
            log_info("history: anomalies saved again");
    }
}

static void load_anomaly(void *ctx, const struct anomaly *a)
{
    anomaly_log_add(ctx, a);
}

static void on_tick(void *userdata, const struct snapshot *snap)
{
    struct monitor *m = userdata;

    if (history && anomaly_log_seq(monitor_anomalies(m)) != anomaly_seq)
        save_anomalies(m);
    if (history) {
        int r = store_append(history, snap);
        if (r < 0) {
            int64_t now = (int64_t)(snap->timestamp_ms / 1000);
            store_failures++;
            /* disk full and the like: at most one line a minute, even when
             * some appends get through in between (the last block of a full
             * file system fits a small write); the live snapshot is still
             * served and appends resume when they can */
            if (now - last_store_log >= 60) {
                log_error("history: cannot write to %s (%s); %llu snapshot(s) not kept since "
                          "the last message; retrying every tick",
                          history_path, strerror(-r), (unsigned long long)store_failures);
                last_store_log = now;
                store_failures = 0;
                store_logged = true;
            }
        } else if (store_logged) {
            log_info("history: writing again");
            store_logged = false;
        }
    }
    if (print_summary)
        summary_print_line(stdout, snap);
    alert_dispatch_kick(alerts); /* the anomalies are saved: their alerts may go out */
}

/* Opens the history database in data_dir; NULL with a message on stderr when unusable. */
static struct store *open_history(const struct config *cfg)
{
    struct store_options o = {.raw_days = cfg->monitoring.retention_period_days,
                              .minute_days = cfg->storage.minute_days,
                              .hour_days = cfg->storage.hour_days};
    struct store *st = NULL;
    struct strbuf errs;
    snprintf(history_path, sizeof(history_path), "%s/%s", cfg->agent.data_dir, STORE_FILE);
    strbuf_init(&errs, 4096);
    if (store_open(&st, history_path, &o, &errs) < 0)
        fprintf(stderr, "arthamon: %s", errs.buf ? errs.buf : "cannot open the history\n");
    strbuf_done(&errs);
    return st;
}

/* The collectors keep their files open: allow as many descriptors as the hard limit. */
static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int load_resolved(const char *path, struct config *cfg)
{
    struct strbuf errs;
    int r;

    r = cli_load_config(path, cfg, NULL);
    if (r < 0)
        return r;
    strbuf_init(&errs, 1 << 16);
    r = config_resolve(cfg, true, &errs);
    if (r < 0) {
        fputs(errs.buf ? errs.buf : "cannot prepare the data directory\n", stderr);
        config_done(cfg);
    }
    strbuf_done(&errs);
    return r;
}

static void apply_hook(struct monitor *m, const struct config *cfg)
{
    print_summary = cfg->agent.console_summary;
    monitor_set_tick_hook(m, on_tick, m);
}

static struct http_shared http_state; /* counters and start time, across reloads */

/*
 * The StatsD server of cfg's statsd section, or NULL when it is off or cannot
 * start: then the agent runs on without it (logged), as a node that sends no
 * StatsD loses nothing. The section is read at start only.
 */
static struct statsd_server *start_statsd(const struct config *cfg)
{
    struct agg *a = agg_global();
    struct statsd_server_options o = {0};
    struct statsd_server *s = NULL;
    int r;

    if (!a)
        return NULL;
    r = agg_configure(a, cfg->statsd.max_series, cfg->statsd.histogram_buckets,
                      cfg->statsd.n_histogram_buckets);
    if (r < 0)
        log_warn("statsd: the limits cannot be applied: %s", strerror(-r));
    for (size_t i = 0; i < cfg->statsd.n_mapping; i++)
        if ((r = agg_add_rule(a, cfg->statsd.mapping[i].match, cfg->statsd.mapping[i].field)) < 0)
            log_warn("statsd.mapping: \"%s\" -> %s not applied: %s", cfg->statsd.mapping[i].match,
                     cfg->statsd.mapping[i].field, strerror(-r));
    if (!cfg->statsd.enabled)
        return NULL;
    o.listen = cfg->statsd.listen;
    o.unix_socket = cfg->statsd.unix_socket;
    o.rcvbuf_bytes = cfg->statsd.rcvbuf_bytes;
    o.agg = a;
    r = statsd_server_start(&s, &o);
    if (r < 0) {
        log_error("statsd: not receiving (%s); the agent runs on without its StatsD server",
                  strerror(-r));
        return NULL;
    }
    return s;
}

static void log_errs(struct strbuf *errs, const char *dflt)
{
    size_t n = errs->len;

    while (n > 0 && errs->buf[n - 1] == '\n')
        errs->buf[--n] = '\0';
    log_error("%s", errs->buf ? errs->buf : dflt);
}

/* The HTTP server for cfg, or NULL when it is off or cannot start (logged). */
static struct http_server *serve(struct monitor *m, const struct config *cfg)
{
    struct http_server *srv = NULL;
    struct strbuf errs;

    if (!cfg->http.enabled)
        return NULL;
    strbuf_init(&errs, 4096);
    if (http_server_start(&srv, m, cfg, &http_state, &errs) < 0)
        log_errs(&errs, "http: cannot start");
    strbuf_done(&errs);
    return srv;
}

/* Moves the HTTP server to ncfg. False if ncfg cannot be served (logged); the
 * server then runs on with the old config, as the rest of the daemon does. */
static bool reserve(struct http_server **srv, struct monitor *m, const struct config *ncfg)
{
    struct strbuf errs;
    bool ok = true;

    if (!*srv || !ncfg->http.enabled) {
        http_server_stop(*srv);
        *srv = serve(m, ncfg);
        return !ncfg->http.enabled || *srv;
    }
    strbuf_init(&errs, 4096);
    if (http_server_reload(srv, ncfg, &errs) < 0) {
        log_errs(&errs, "http: cannot serve the new configuration");
        ok = false;
    }
    strbuf_done(&errs);
    if (!*srv)
        log_error("reload: the HTTP server could not be restored either; the API is down "
                  "until the next successful reload");
    return ok;
}

int cmd_run(int argc, char **argv)
{
    const char *path = NULL;
    struct config cfg;
    struct monitor *m;
    sigset_t sigs;
    struct http_server *srv;
    struct statsd_server *statsd;
    int sfd, r;

    for (int i = 1; i < argc; i++) {
        if (!cli_config_opt(argc, argv, &i, &path)) {
            fprintf(stderr, "usage: arthamon run [-c FILE]\n");
            return 2;
        }
    }
    if (path == NULL && access(DEFAULT_CONFIG_PATH, F_OK) == 0)
        path = DEFAULT_CONFIG_PATH;
    if (load_resolved(path, &cfg) < 0) {
        fprintf(stderr, "arthamon: not starting: fix the configuration first\n");
        return 1;
    }
    config_apply_logging(&cfg);
    raise_nofile();
    if (cfg.storage.enabled && !(history = open_history(&cfg))) {
        fprintf(stderr, "arthamon: not starting: the history database cannot be used\n");
        config_done(&cfg);
        return 1;
    }

    /* signals go to a signalfd read by this thread only */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    if (sfd < 0) {
        fprintf(stderr, "arthamon: signalfd: %s\n", strerror(errno));
        config_done(&cfg);
        return 1;
    }

    m = monitor_new(&cfg);
    if (!m) {
        fprintf(stderr, "arthamon: out of memory\n");
        close(sfd);
        config_done(&cfg);
        return 1;
    }
    apply_hook(m, &cfg);
    if (history) {
        /* the anomalies of earlier runs: served again, and the open ones carried on */
        long n = store_anomalies(history, 1000, load_anomaly, monitor_anomalies(m));
        if (n < 0)
            log_warn("history: cannot read the saved anomalies: %s", strerror((int)-n));
        anomaly_seq = anomaly_log_seq(monitor_anomalies(m));
    }
    {
        /* the outbox lives in the history database, so that pending notifications
         * survive a restart; without one, in memory */
        struct strbuf errs;
        strbuf_init(&errs, 4096);
        if (!history)
            log_warn("alerts: no history database (storage.enabled: false): undelivered "
                     "notifications are lost at a restart");
        if (alert_dispatch_new(&alerts, monitor_anomalies(m), history ? history_path : NULL,
                               &errs) < 0) {
            log_errs(&errs, "alerts: cannot open the outbox");
            log_error("alerts: not delivering any alert");
            alerts = NULL;
        } else if (alert_dispatch_configure(alerts, &cfg) < 0) {
            log_error("alerts: cannot start the dispatcher; not delivering any alert");
        }
        strbuf_done(&errs);
    }
    log_info("arthamon %s starting: node_id %s, sampling every %llu ms, config %s, data in %s",
             am_version(), cfg.agent.node_id,
             (unsigned long long)cfg.monitoring.sampling_interval_ms,
             path ? path : "(built-in defaults)", cfg.agent.data_dir);
    r = monitor_start(m);
    if (r < 0) {
        log_error("cannot start the sampler: %s", strerror(-r));
        alert_dispatch_free(alerts);
        alerts = NULL;
        monitor_free(m);
        close(sfd);
        config_done(&cfg);
        return 1;
    }

    statsd = start_statsd(&cfg);
    http_shared_init(&http_state);
    http_state.store = history;
    http_state.statsd = statsd;
    http_state.alerts = alerts;
    srv = serve(m, &cfg);
    if (cfg.http.enabled && !srv) {
        /* asked to serve and cannot (port taken, bad certificate): say so and stop,
         * rather than run half-blind under a supervisor that thinks all is well */
        statsd_server_stop(statsd);
        monitor_stop(m); /* the dispatcher reads the monitor's anomaly log */
        alert_dispatch_free(alerts);
        alerts = NULL;
        monitor_free(m);
        close(sfd);
        config_done(&cfg);
        return 1;
    }
    if (srv) {
        printf("arthamon: dashboard and API at %s://%s:%u/\n",
               cfg.http.tls.cert_file ? "https" : "http", cfg.agent.listen_address,
               http_server_port(srv));
        fflush(stdout);
    }

    for (;;) {
        struct signalfd_siginfo si;
        struct pollfd pfd = {sfd, POLLIN, 0};
        ssize_t n;

        /* between signals: the history's housekeeping (compaction, tiers, retention) */
        if (poll(&pfd, 1, history ? (int)cfg.storage.maintenance_interval_sec * 1000 : -1) == 0) {
            struct timespec now;
            int mr;
            clock_gettime(CLOCK_REALTIME, &now);
            mr = store_maintain(history, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
            if (mr < 0)
                log_warn("history: housekeeping failed (%s); retrying later", strerror(-mr));
            continue;
        }
        n = read(sfd, &si, sizeof(si));

        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(si)) {
            log_error("signalfd read failed: %s", n < 0 ? strerror(errno) : "short read");
            break;
        }
        if (si.ssi_signo == SIGHUP) {
            struct config ncfg;
            log_info("SIGHUP: reloading %s", path ? path : "(built-in defaults)");
            if (load_resolved(path, &ncfg) < 0) {
                log_error("reload failed; keeping the running configuration");
                continue;
            }
            /* the server moves to the new config (port, credentials, TLS);
             * if it cannot, everything keeps the running configuration */
            if (!reserve(&srv, m, &ncfg)) {
                log_error("reload: keeping the running configuration");
                config_done(&ncfg);
                continue;
            }
            config_apply_logging(&ncfg);
            apply_hook(m, &ncfg);
            monitor_reload(m, &ncfg);
            if (alerts && alert_dispatch_configure(alerts, &ncfg) < 0)
                log_error("reload: the alert dispatcher cannot start; no alert is delivered "
                          "until the next successful reload");
            if (!ncfg.enabled || !ncfg.monitoring.enabled)
                monitor_stop(m);
            else if (!monitor_running(m))
                monitor_start(m);
            config_done(&cfg);
            cfg = ncfg;
            continue;
        }
        log_info("%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    http_server_stop(srv);
    statsd_server_stop(statsd);
    monitor_stop(m); /* the dispatcher reads the monitor's anomaly log */
    alert_dispatch_free(alerts);
    alerts = NULL;
    monitor_free(m);
    store_close(history);
    history = NULL;
    close(sfd);
    config_done(&cfg);
    log_info("stopped");
    log_set_file(NULL);
    return 0;
}
