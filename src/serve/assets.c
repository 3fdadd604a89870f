/* Looking up the embedded dashboard files (assets.h). */
#include <string.h>

#include "assets.h"

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
};

const struct web_asset *web_asset_for_path(const char *path, const char **ret_type)
{
    const char *name;
    size_t len;

    if (!strcmp(path, "/"))
        name = "index.html";
    else if (!strncmp(path, "/static/", 8) && path[8] && !strchr(path + 8, '/'))
        name = path + 8;
    else
        return NULL;
    len = strlen(name);
    for (const struct web_asset *a = web_assets; a->name; a++) {
        if (strcmp(a->name, name) != 0)
            continue;
        *ret_type = "application/octet-stream";
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            size_t el = strlen(types[i].ext);
            if (len > el && !strcmp(name + len - el, types[i].ext))
                *ret_type = types[i].type;
        }
        return a;
    }
    return NULL;
}
