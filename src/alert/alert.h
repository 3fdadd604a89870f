/*
 * Alerts: what the channels deliver and how a channel plugs in.
 *
 * An anomaly at or above alerts.min_severity becomes an alert (one per
 * anomaly type + component); each change of an alert that operators must hear
 * of (it fires, repeats, escalates, resolves; or a storm summary) becomes one
 * notification per configured channel, kept in the durable outbox (outbox.h)
 * until the dispatcher (dispatch.h) has delivered it.
 *
 * A channel is one file in channels/ and one line in the table of
 * channels/channels.c: a struct alert_channel_ops with designated
 * initialisers. Nothing else knows it exists.
 */
#ifndef AM_ALERT_ALERT_H
#define AM_ALERT_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "core/config.h"

enum alert_event {
    ALERT_EV_FIRING,    /* an alert opened */
    ALERT_EV_REPEAT,    /* still open after alerts.repeat_interval_sec */
    ALERT_EV_ESCALATED, /* its severity rose while open */
    ALERT_EV_RESOLVED,  /* it ended (and stayed ended for alerts.hold_down_sec) */
    ALERT_EV_SUMMARY,   /* a storm: the alerts of a minute in one notification */
    ALERT_EV_TEST,      /* `arthamon alerts test` */
};
#define ALERT_EV_COUNT 6

const char *alert_event_name(enum alert_event ev);
/* The event of a name, or -1. */
int alert_event_parse(const char *name);
/* "info", "low", "medium", "high", "critical" (the seed's levels 1..5). */
const char *alert_severity_name(unsigned severity);

/* One notification, as a channel gets it. Strings are owned by the caller. */
struct notification {
    const char *key; /* idempotency key: the same for every retry, unique per node */
    enum alert_event event;
    const char *node_id;
    const char *alert_id; /* the id of the anomaly that opened the alert */
    const char *anomaly_type;
    const char *component;
    const char *description;
    const char *details; /* plain text: related metrics and suggested actions, one a line */
    const char *body;    /* JSON: the anomaly (an array of them for a summary) */
    unsigned severity;
    unsigned prev_severity; /* ALERT_EV_ESCALATED: the severity before; else 0 */
    bool quantum_relevant;
    int64_t starts_ms; /* when the alert opened (epoch ms) */
    int64_t ends_ms;   /* when it ended; 0 while open */
    int64_t created_ms;
    unsigned count; /* ALERT_EV_SUMMARY: how many alerts it covers */
};

/* What send() returns besides 0 (delivered). */
#define ALERT_RETRY     (-11) /* transient (-EAGAIN): try again after a back-off */
#define ALERT_PERMANENT (-22) /* (-EINVAL) the receiver refuses it: retrying will not help */

struct alert_channel_ops {
    const char *name; /* "console", "logfile", "webhook", "alertmanager", "email" */
    /* True when cfg asks for this channel. */
    bool (*configured)(const struct config *cfg);
    /* Prepares to send with cfg (copied as needed); 0, or -errno with one line in err
     * (a secret file unreadable, libcurl missing): then the dispatcher retries later. */
    int (*open)(const struct config *cfg, void **state, struct strbuf *err);
    /* Delivers n: 0, ALERT_RETRY or ALERT_PERMANENT with one line in err (never a
     * secret in it). */
    int (*send)(void *state, const struct notification *n, struct strbuf *err);
    void (*close)(void *state);
    /* Optional: a receiver that forgets open alerts unless told again (Alertmanager)
     * gets every open alert re-posted every refresh_sec(cfg) seconds. */
    uint32_t (*refresh_sec)(const struct config *cfg);
};

/* The channels, NULL-terminated. */
extern const struct alert_channel_ops *const alert_channels[];
/* The channel named name, or NULL. */
const struct alert_channel_ops *alert_channel_find(const char *name);

/* Renderings shared by the channels (render.c). */
/* The notification as the webhook posts it and the log file keeps it (one line). */
void alert_render_json(const struct notification *n, struct strbuf *out);
/* "[FIRING] medium cpu_saturation on cpu (node-1)" */
void alert_render_subject(const struct notification *n, struct strbuf *out);
/* A plain-text body (e-mail, console details). */
void alert_render_text(const struct notification *n, struct strbuf *out);
/* An HTML body (e-mail); every string escaped. */
void alert_render_html(const struct notification *n, struct strbuf *out);
/* RFC 3339 UTC with milliseconds: "2026-11-27T10:13:09.123Z". */
void alert_time_iso(int64_t ms, char buf[32]);

/* The current time, epoch milliseconds. */
int64_t alert_now_ms(void);

#endif
