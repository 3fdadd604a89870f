/* The renderings of a notification the channels share (alert.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alert.h"

static const char *const event_names[ALERT_EV_COUNT] = {
    [ALERT_EV_FIRING] = "firing",       [ALERT_EV_REPEAT] = "repeat",
    [ALERT_EV_ESCALATED] = "escalated", [ALERT_EV_RESOLVED] = "resolved",
    [ALERT_EV_SUMMARY] = "summary",     [ALERT_EV_TEST] = "test",
};

const char *alert_event_name(enum alert_event ev)
{
    return (unsigned)ev < ALERT_EV_COUNT ? event_names[ev] : "unknown";
}

int alert_event_parse(const char *name)
{
    for (int i = 0; i < ALERT_EV_COUNT; i++)
        if (name && !strcmp(name, event_names[i]))
            return i;
    return -1;
}

const char *alert_severity_name(unsigned severity)
{
    static const char *const names[] = {"none", "info", "low", "medium", "high", "critical"};
    return severity <= 5 ? names[severity] : "critical";
}

int64_t alert_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void alert_time_iso(int64_t ms, char buf[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    size_t n;

    if (ms < 0 || !gmtime_r(&s, &tm)) {
        snprintf(buf, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* "firing" for every event of an open alert, "resolved" once it ended */
static const char *status_of(const struct notification *n)
{
    return n->event == ALERT_EV_RESOLVED ? "resolved" : "firing";
}

void alert_render_json(const struct notification *n, struct strbuf *out)
{
    char t[32];

    strbuf_puts(out, "{\"version\":1,\"idempotency_key\":");
    strbuf_json_str(out, n->key);
    strbuf_printf(out,
                  ",\"event\":\"%s\",\"status\":\"%s\",\"node_id\":", alert_event_name(n->event),
                  status_of(n));
    strbuf_json_str(out, n->node_id);
    strbuf_puts(out, ",\"alert_id\":");
    strbuf_json_str(out, n->alert_id);
    strbuf_puts(out, ",\"anomaly_type\":");
    strbuf_json_str(out, n->anomaly_type);
    strbuf_puts(out, ",\"component\":");
    strbuf_json_str(out, n->component);
    strbuf_printf(out,
                  ",\"severity\":%u,\"severity_name\":\"%s\",\"previous_severity\":", n->severity,
                  alert_severity_name(n->severity));
    if (n->prev_severity)
        strbuf_printf(out, "%u", n->prev_severity);
    else
        strbuf_puts(out, "null");
    strbuf_printf(
        out, ",\"quantum_relevant\":%s,\"description\":", n->quantum_relevant ? "true" : "false");
    strbuf_json_str(out, n->description);
    alert_time_iso(n->starts_ms, t);
    strbuf_printf(out, ",\"starts_at\":\"%s\",\"ends_at\":", t);
    if (n->ends_ms) {
        alert_time_iso(n->ends_ms, t);
        strbuf_printf(out, "\"%s\"", t);
    } else {
        strbuf_puts(out, "null");
    }
    alert_time_iso(n->created_ms, t);
    strbuf_printf(out, ",\"created_at\":\"%s\"", t);
    if (n->event == ALERT_EV_SUMMARY)
        strbuf_printf(out, ",\"count\":%u,\"anomalies\":%s", n->count,
                      n->body && *n->body ? n->body : "[]");
    else
        strbuf_printf(out, ",\"anomaly\":%s", n->body && *n->body ? n->body : "null");
    strbuf_putc(out, '}');
}

void alert_render_subject(const struct notification *n, struct strbuf *out)
{
    static const char *const tags[ALERT_EV_COUNT] = {
        [ALERT_EV_FIRING] = "FIRING",       [ALERT_EV_REPEAT] = "STILL FIRING",
        [ALERT_EV_ESCALATED] = "ESCALATED", [ALERT_EV_RESOLVED] = "RESOLVED",
        [ALERT_EV_SUMMARY] = "ALERT STORM", [ALERT_EV_TEST] = "TEST",
    };
    const char *tag = (unsigned)n->event < ALERT_EV_COUNT ? tags[n->event] : "ALERT";

    if (n->event == ALERT_EV_SUMMARY)
        strbuf_printf(out, "[%s] %u alerts on %s", tag, n->count, n->node_id);
    else
        strbuf_printf(out, "[%s] %s %s on %s (%s)", tag, alert_severity_name(n->severity),
                      n->anomaly_type, n->component, n->node_id);
}

void alert_render_text(const struct notification *n, struct strbuf *out)
{
    char t[32];

    alert_render_subject(n, out);
    strbuf_printf(out, "\n\n%s\n\n", n->description ? n->description : "");
    alert_time_iso(n->starts_ms, t);
    strbuf_printf(out, "node:      %s\nalert:     %s\nseverity:  %u (%s)\nsince:     %s\n",
                  n->node_id, n->alert_id, n->severity, alert_severity_name(n->severity), t);
    if (n->ends_ms) {
        alert_time_iso(n->ends_ms, t);
        strbuf_printf(out, "ended:     %s\n", t);
    }
    if (n->details && *n->details)
        strbuf_printf(out, "\n%s", n->details);
    strbuf_printf(out, "\n-- \nidempotency key %s\n", n->key);
}

static void html_str(struct strbuf *out, const char *s)
{
    strbuf_html(out, s, s ? strlen(s) : 0);
}

void alert_render_html(const struct notification *n, struct strbuf *out)
{
    static const char *const colours[] = {"#6b7280", "#2563eb", "#0d9488",
                                          "#d97706", "#ea580c", "#dc2626"};
    struct strbuf subject;
    char t[32];

    strbuf_init(&subject, 4096);
    alert_render_subject(n, &subject);
    strbuf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    html_str(out, subject.buf);
    strbuf_printf(out,
                  "</title></head>\n<body style=\"font-family:sans-serif\">\n"
                  "<h2 style=\"color:%s\">",
                  colours[n->severity <= 5 ? n->severity : 5]);
    html_str(out, subject.buf);
    strbuf_puts(out, "</h2>\n<p>");
    html_str(out, n->description);
    strbuf_puts(out, "</p>\n<table>\n<tr><th align=\"left\">node</th><td>");
    html_str(out, n->node_id);
    strbuf_puts(out, "</td></tr>\n<tr><th align=\"left\">alert</th><td>");
    html_str(out, n->alert_id);
    strbuf_printf(out, "</td></tr>\n<tr><th align=\"left\">severity</th><td>%u (%s)</td></tr>\n",
                  n->severity, alert_severity_name(n->severity));
    alert_time_iso(n->starts_ms, t);
    strbuf_printf(out, "<tr><th align=\"left\">since</th><td>%s</td></tr>\n", t);
    if (n->ends_ms) {
        alert_time_iso(n->ends_ms, t);
        strbuf_printf(out, "<tr><th align=\"left\">ended</th><td>%s</td></tr>\n", t);
    }
    strbuf_puts(out, "</table>\n");
    if (n->details && *n->details) {
        strbuf_puts(out, "<ul>\n");
        for (const char *l = n->details; *l;) {
            size_t len = strcspn(l, "\n");
            if (len) {
                strbuf_puts(out, "<li>");
                strbuf_html(out, l, len);
                strbuf_puts(out, "</li>\n");
            }
            l += len + (l[len] == '\n');
        }
        strbuf_puts(out, "</ul>\n");
    }
    strbuf_puts(out, "<p style=\"color:#6b7280;font-size:small\">idempotency key ");
    html_str(out, n->key);
    strbuf_puts(out, "</p>\n</body></html>\n");
    strbuf_done(&subject);
}
