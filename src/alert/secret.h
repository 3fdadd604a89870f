/* Secrets of the alert channels: inline in the config or in a file of their own. */
#ifndef AM_ALERT_SECRET_H
#define AM_ALERT_SECRET_H

#include "common/strbuf.h"

/*
 * A copy of `inline_value`, or else the first line of `file` (without its
 * line end; at most 4096 bytes), or NULL with *ret = NULL when neither is set.
 * 0, or -errno with one line in err naming `what` and the file (never the
 * secret). The caller wipes and frees it with alert_secret_free().
 */
int alert_secret_load(const char *what, const char *inline_value, const char *file, char **ret,
                      struct strbuf *err);
void alert_secret_free(char *s);

#endif
