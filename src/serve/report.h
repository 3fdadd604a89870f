/*
 * The seed's generate_report(): the current state, a summary of the history
 * kept in memory (minimum, mean, maximum of every figure) and the recent
 * anomalies, as Markdown.
 */
#ifndef AM_SERVE_REPORT_H
#define AM_SERVE_REPORT_H

#include "common/strbuf.h"
#include "core/monitor.h"

/* Appends the report to out; -ENOSPC if out overflowed. */
int report_markdown(struct monitor *m, struct strbuf *out);

#endif
