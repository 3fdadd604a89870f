/*
 * The Alertmanager channel: notifications POSTed to Alertmanager's API v2
 * (<alerts.alertmanager_url>/api/v2/alerts) as alerts with the labels
 *   alertname (the anomaly type), anomaly_type, component, severity (the
 *   seed's level name: info, low, medium, high, critical), severity_level
 *   (1..5), node_id, quantum_relevant
 * and the annotations summary, description, details, alert_id and
 * idempotency_key. Alertmanager forgets an alert at its endsAt unless told
 * again, as Prometheus does: a firing alert is posted with endsAt four
 * re-post intervals ahead and re-posted every alerts.alertmanager_resend_sec
 * while open (refresh_sec); a resolved one with endsAt = when it ended. An
 * escalation ends the alert of the old severity label and fires the new one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "alert/post.h"

#define AM_PATH "/api/v2/alerts"

struct am {
    char *url;
    uint32_t timeout_ms;
    int64_t horizon_ms; /* a firing alert's endsAt, ahead of now */
};

static bool am_configured(const struct config *cfg)
{
    return cfg->alerts.alertmanager_url != NULL;
}

static uint32_t am_refresh_sec(const struct config *cfg)
{
    return cfg->alerts.alertmanager_resend_sec;
}

static void am_close(void *state)
{
    struct am *am = state;

    if (am) {
        free(am->url);
        free(am);
    }
}

static int am_open(const struct config *cfg, void **state, struct strbuf *err)
{
    const char *base = cfg->alerts.alertmanager_url;
    size_t len = strlen(base);
    struct am *am = calloc(1, sizeof(*am));
    int r;

    if (!am)
        return -ENOMEM;
    while (len > 0 && base[len - 1] == '/')
        len--;
    if (len >= strlen(AM_PATH) && !strncmp(base + len - strlen(AM_PATH), AM_PATH, strlen(AM_PATH)))
        len -= strlen(AM_PATH);
    if (!(am->url = malloc(len + sizeof(AM_PATH)))) {
        am_close(am);
        return -ENOMEM;
    }
    memcpy(am->url, base, len);
    memcpy(am->url + len, AM_PATH, sizeof(AM_PATH));
    am->timeout_ms = cfg->alerts.timeout_ms;
    am->horizon_ms = 4 * (int64_t)cfg->alerts.alertmanager_resend_sec * 1000;
    if ((r = alert_post_ready("alertmanager", err)) < 0) {
        am_close(am);
        return r;
    }
    *state = am;
    return 0;
}

static void json_member(struct strbuf *out, const char *name, const char *v, bool first)
{
    strbuf_printf(out, "%s\"%s\":", first ? "" : ",", name);
    strbuf_json_str(out, v ? v : "");
}

/* One alert object with the given severity label and end. */
static void am_alert(struct strbuf *out, const struct notification *n, unsigned severity,
                     int64_t ends_ms)
{
    const bool storm = n->event == ALERT_EV_SUMMARY, test = n->event == ALERT_EV_TEST;
    struct strbuf subject;
    char t[32], lvl[4];

    strbuf_init(&subject, 4096);
    alert_render_subject(n, &subject);
    snprintf(lvl, sizeof(lvl), "%u", severity);
    strbuf_puts(out, "{\"labels\":{");
    json_member(out, "alertname",
                storm  ? "alert_storm"
                : test ? "arthamon_test"
                       : n->anomaly_type,
                true);
    json_member(out, "anomaly_type", n->anomaly_type, false);
    json_member(out, "component", n->component, false);
    json_member(out, "severity", alert_severity_name(severity), false);
    json_member(out, "severity_level", lvl, false);
    json_member(out, "node_id", n->node_id, false);
    json_member(out, "quantum_relevant", n->quantum_relevant ? "true" : "false", false);
    if (storm) /* each storm summary is an alert of its own */
        json_member(out, "alert_id", n->alert_id, false);
    strbuf_puts(out, "},\"annotations\":{");
    json_member(out, "summary", subject.buf, true);
    json_member(out, "description", n->description, false);
    json_member(out, "details", n->details, false);
    json_member(out, "alert_id", n->alert_id, false);
    json_member(out, "idempotency_key", n->key, false);
    alert_time_iso(n->starts_ms, t);
    strbuf_printf(out, "},\"startsAt\":\"%s\"", t);
    alert_time_iso(ends_ms, t);
    strbuf_printf(out, ",\"endsAt\":\"%s\"}", t);
    strbuf_done(&subject);
}

static int am_send(void *state, const struct notification *n, struct strbuf *err)
{
    struct am *am = state;
    int64_t now = alert_now_ms();
    struct strbuf body;
    int r;

    strbuf_init(&body, (size_t)1 << 22);
    strbuf_putc(&body, '[');
    if (n->event == ALERT_EV_ESCALATED && n->prev_severity && n->prev_severity != n->severity) {
        am_alert(&body, n, n->prev_severity, now); /* the old severity's alert ends */
        strbuf_putc(&body, ',');
    }
    am_alert(&body, n, n->severity,
             n->event == ALERT_EV_RESOLVED && n->ends_ms ? n->ends_ms : now + am->horizon_ms);
    strbuf_putc(&body, ']');
    if (body.overflow) {
        strbuf_puts(err, "alertmanager: the notification is too large");
        strbuf_done(&body);
        return ALERT_PERMANENT;
    }
    r = alert_post("alertmanager", am->url, NULL, body.buf, am->timeout_ms, err);
    strbuf_done(&body);
    return r;
}

const struct alert_channel_ops alert_alertmanager = {
    .name = "alertmanager",
    .configured = am_configured,
    .open = am_open,
    .send = am_send,
    .close = am_close,
    .refresh_sec = am_refresh_sec,
};
