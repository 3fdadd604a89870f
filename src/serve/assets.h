/*
 * The dashboard's files (web/), embedded in the binary at build time by
 * cmake/embed_web.cmake: the daemon needs no file and no network to serve it.
 */
#ifndef AM_SERVE_ASSETS_H
#define AM_SERVE_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *name; /* "index.html", "app.js": a file of web/ */
    const unsigned char *data;
    size_t len;
};

/* Every embedded file, ended by an entry whose name is NULL. */
extern const struct web_asset web_assets[];

/*
 * The asset a request path asks for: "/" is index.html, "/static/NAME" is
 * NAME; NULL for any other path or a name not embedded. *ret_type gets its
 * content type.
 */
const struct web_asset *web_asset_for_path(const char *path, const char **ret_type);

#endif
