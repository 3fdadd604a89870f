/* The embedding API (include/arthamon/arthamon.h) over the monitor. */
#define LOG_MODULE "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arthamon/arthamon.h"
#include "config.h"
#include "monitor.h"
#include "snapshot.h"

struct am_monitor {
    struct monitor *m;
};

struct hook_box {
    am_log_fn fn;
    void *ud;
};

static struct hook_box hook_box;

/* am_snapshot is struct snapshot seen from outside */
#define SNAP(p)  ((struct snapshot *)(p))
#define CSNAP(p) ((const struct snapshot *)(p))

#define STR_(x) #x
#define STR(x)  STR_(x)

const char *am_version(void)
{
    return STR(AM_VERSION_MAJOR) "." STR(AM_VERSION_MINOR) "." STR(AM_VERSION_PATCH);
}

const char *am_strerror(int err)
{
    return strerror(err < 0 ? -err : err);
}

/* Loads the configuration (a file, YAML text, or neither: the defaults) and builds
 * the monitor; on failure the configuration's messages go to errbuf. */
static int monitor_from(const char *path, const char *yaml, size_t len, char *errbuf, size_t errlen,
                        am_monitor **ret)
{
    struct config cfg;
    struct strbuf errs;
    am_monitor *am = NULL;
    int r = 0;

    config_defaults(&cfg);
    strbuf_init(&errs, 64 * 1024);
    if (path)
        r = config_load_file(&cfg, path, &errs);
    else if (yaml)
        r = config_load_buffer(&cfg, "<yaml>", yaml, len, &errs);
    if (r == 0)
        r = config_resolve(&cfg, true, &errs);
    if (r == 0) {
        config_apply_logging(&cfg);
        if (hook_box.fn)
            log_set_stdout(false); /* the embedding node's handler replaces stdout */
        am = calloc(1, sizeof(*am));
        if (am)
            am->m = monitor_new(&cfg);
        if (!am || !am->m) {
            free(am);
            r = -ENOMEM;
        }
    }
    if (r < 0 && errbuf && errlen)
        snprintf(errbuf, errlen, "%s", errs.buf ? errs.buf : am_strerror(r));
    if (r == 0)
        *ret = am;
    config_done(&cfg);
    strbuf_done(&errs);
    return r;
}

int am_monitor_new(const char *config_path, char *errbuf, size_t errlen, am_monitor **ret_monitor)
{
    return monitor_from(config_path, NULL, 0, errbuf, errlen, ret_monitor);
}

int am_monitor_new_yaml(const char *yaml, size_t len, char *errbuf, size_t errlen,
                        am_monitor **ret_monitor)
{
    if (!yaml)
        return -EINVAL;
    return monitor_from(NULL, yaml, len, errbuf, errlen, ret_monitor);
}

int am_monitor_start(am_monitor *m)
{
    return monitor_start(m->m);
}

int am_monitor_stop(am_monitor *m)
{
    return monitor_stop(m->m);
}

int am_monitor_is_running(am_monitor *m)
{
    return monitor_running(m->m) ? 1 : 0;
}

void am_monitor_free(am_monitor *m)
{
    if (!m)
        return;
    monitor_free(m->m);
    free(m);
}

am_snapshot *am_monitor_current_snapshot(am_monitor *m)
{
    return (am_snapshot *)monitor_current(m->m);
}

int am_monitor_history(am_monitor *m, size_t limit, am_snapshot ***ret_list, size_t *ret_count)
{
    struct snapshot **list;
    size_t n;

    if (limit > 1000000)
        limit = 1000000;
    list = calloc(limit ? limit : 1, sizeof(*list));
    if (!list)
        return -ENOMEM;
    n = monitor_history(m->m, limit, list);
    *ret_list = (am_snapshot **)list;
    *ret_count = n;
    return 0;
}

void am_snapshot_list_release(am_snapshot **list, size_t count)
{
    if (!list)
        return;
    for (size_t i = 0; i < count; i++)
        snapshot_unref(SNAP(list[i]));
    free(list);
}

void am_snapshot_release(am_snapshot *s)
{
    snapshot_unref(SNAP(s));
}

uint64_t am_snapshot_timestamp(const am_snapshot *s)
{
    return CSNAP(s)->timestamp;
}

int am_snapshot_to_json(const am_snapshot *s, char **ret_json)
{
    struct strbuf sb;
    int r;

    strbuf_init(&sb, 0);
    r = snapshot_to_json(CSNAP(s), &sb);
    if (r < 0) {
        strbuf_done(&sb);
        return r;
    }
    *ret_json = strbuf_steal(&sb);
    return 0;
}

int am_monitor_anomalies(am_monitor *m, size_t limit, int min_severity, char **ret_json)
{
    struct strbuf sb;
    int r;

    if (!m || !ret_json || min_severity < 1 || min_severity > 5)
        return -EINVAL;
    strbuf_init(&sb, 0);
    r = anomaly_log_to_json(monitor_anomalies(m->m), (uint8_t)min_severity, limit, &sb);
    if (r < 0) {
        strbuf_done(&sb);
        return r == -ENOSPC ? -ENOMEM : r;
    }
    *ret_json = strbuf_steal(&sb);
    return *ret_json ? 0 : -ENOMEM;
}

struct name_visit {
    char name[512];
    am_series_fn fn;
    void *ud;
    const char *want;
    double found;
    int hit;
};

static void format_name(char *out, size_t len, const struct series_desc *d,
                        const struct series_label *labels, size_t n)
{
    size_t off = (size_t)snprintf(out, len, "%s", d->name);

    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(out + off, len - off, "%s%s=\"%s\"", i ? "," : "{", labels[i].key,
                                labels[i].value);
    if (n && off < len)
        snprintf(out + off, len - off, "}");
}

static void visit_foreach(void *ctx, const struct series_desc *d, const struct series_label *l,
                          size_t n, double v)
{
    struct name_visit *nv = ctx;

    format_name(nv->name, sizeof(nv->name), d, l, n);
    nv->fn(nv->ud, nv->name, v);
}

static void visit_get(void *ctx, const struct series_desc *d, const struct series_label *l,
                      size_t n, double v)
{
    struct name_visit *nv = ctx;

    if (nv->hit)
        return;
    format_name(nv->name, sizeof(nv->name), d, l, n);
    if (!strcmp(nv->name, nv->want)) {
        nv->found = v;
        nv->hit = 1;
    }
}

int am_snapshot_get(const am_snapshot *s, const char *series, double *ret_value)
{
    struct name_visit nv = {.want = series};

    if (!series)
        return -EINVAL;
    snapshot_flatten(CSNAP(s), visit_get, &nv);
    if (!nv.hit)
        return -ENOENT;
    *ret_value = nv.found;
    return 0;
}

void am_snapshot_foreach(const am_snapshot *s, am_series_fn fn, void *userdata)
{
    struct name_visit nv = {.fn = fn, .ud = userdata};

    snapshot_flatten(CSNAP(s), visit_foreach, &nv);
}

void am_free(void *p)
{
    free(p);
}

static void log_bridge(void *ud, enum log_level level, const char *module, const char *msg)
{
    struct hook_box *b = ud;

    b->fn(b->ud, (int)level, module, msg);
}

void am_set_log_handler(am_log_fn fn, void *userdata)
{
    if (fn) {
        hook_box.fn = fn;
        hook_box.ud = userdata;
        log_set_hook(log_bridge, &hook_box);
        log_set_stdout(false);
    } else {
        log_set_hook(NULL, NULL);
        log_set_stdout(true);
    }
}
