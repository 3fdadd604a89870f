/*
 * The dashboard's embedded files: every file of web/ is in the binary, byte
 * for byte, reachable at /static/NAME (and index.html at /), with its content
 * type; nothing else is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/assets.h"

static void every_file_is_embedded(void **state)
{
    const char *src = getenv("ARTHAMON_SRC");
    size_t n = 0;

    (void)state;
    for (const struct web_asset *a = web_assets; a->name; a++, n++) {
        char path[4096], url[300];
        const char *type = NULL;
        FILE *f;
        unsigned char *buf;
        size_t got;

        snprintf(path, sizeof(path), "%s/web/%s", src ? src : ".", a->name);
        f = fopen(path, "rb");
        assert_non_null(f);
        buf = malloc(a->len + 1);
        assert_non_null(buf);
        got = fread(buf, 1, a->len + 1, f);
        fclose(f);
        assert_int_equal(got, a->len);             /* the same size ... */
        assert_memory_equal(buf, a->data, a->len); /* ... and bytes as the file */
        free(buf);
        snprintf(url, sizeof(url), "/static/%s", a->name);
        assert_ptr_equal(web_asset_for_path(url, &type), a);
        assert_non_null(type);
    }
    assert_true(n >= 3); /* index.html, a script and a style sheet at least */
}

static void paths(void **state)
{
    const char *type = NULL;
    const struct web_asset *a;

    (void)state;
    a = web_asset_for_path("/", &type);
    assert_non_null(a);
    assert_string_equal(a->name, "index.html");
    assert_string_equal(type, "text/html; charset=utf-8");
    a = web_asset_for_path("/static/app.js", &type);
    assert_non_null(a);
    assert_string_equal(type, "text/javascript; charset=utf-8");
    assert_null(web_asset_for_path("/static/", &type));
    assert_null(web_asset_for_path("/static/../CMakeLists.txt", &type));
    assert_null(web_asset_for_path("/static/x/app.js", &type));
    assert_null(web_asset_for_path("/static/no-such-file.js", &type));
    assert_null(web_asset_for_path("/index.html", &type));
    assert_null(web_asset_for_path("/api/v1/snapshot", &type));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_file_is_embedded),
        cmocka_unit_test(paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
