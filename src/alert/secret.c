/* Secrets of the alert channels (secret.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"

#define SECRET_MAX 4096

int alert_secret_load(const char *what, const char *inline_value, const char *file, char **ret,
                      struct strbuf *err)
{
    char line[SECRET_MAX + 2];
    FILE *f;

    *ret = NULL;
    if (inline_value) {
        *ret = strdup(inline_value);
        return *ret ? 0 : -ENOMEM;
    }
    if (!file)
        return 0;
    if (!(f = fopen(file, "re"))) {
        int e = errno;
        strbuf_printf(err, "%s: cannot read %s: %s", what, file, strerror(e));
        return -e;
    }
    if (!fgets(line, sizeof(line), f) || strlen(line) > SECRET_MAX) {
        fclose(f);
        explicit_bzero(line, sizeof(line));
        strbuf_printf(err, "%s: %s must hold the secret on its first line (1 to %d bytes)", what,
                      file, SECRET_MAX);
        return -EINVAL;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!*line) {
        strbuf_printf(err, "%s: the first line of %s is empty", what, file);
        return -EINVAL;
    }
    *ret = strdup(line);
    explicit_bzero(line, sizeof(line));
    return *ret ? 0 : -ENOMEM;
}

void alert_secret_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}
