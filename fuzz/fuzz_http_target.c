/* A request target through everything the server does before a handler runs:
 * strict parsing, routing, and the route's parameter checks. Whatever the
 * input, the outcome is one of "parsed and routed", 400 or 404 with a message,
 * and the checked parameters are within the ranges the handlers rely on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/handlers.h"

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct httpq q;
    const struct route *r;
    struct api_params p;

    if (httpq_parse(&q, (const char *)data, size) < 0) {
        CHECK(q.error[0] != '\0');
        return 0;
    }
    CHECK(q.path && q.path[0] == '/');
    r = route_find(q.path);
    if (!r)
        return 0;
    CHECK(strcmp(r->path, q.path) == 0);
    if (api_params_parse(r, &q, 1000, &p) < 0) {
        CHECK(q.error[0] != '\0');
        return 0;
    }
    if (r->id == ROUTE_HISTORY) {
        CHECK(p.limit >= 1 && p.limit <= 1000);
        CHECK(!p.has_from || (p.from >= 0 && p.from <= 1e11));
        CHECK(!p.has_to || (p.to >= 0 && p.to <= 1e11));
        CHECK(!(p.has_from && p.has_to) || p.from <= p.to);
    }
    if (r->id == ROUTE_ANOMALIES) {
        CHECK(p.limit >= 1 && p.limit <= 1000);
        CHECK(p.min_severity >= 1 && p.min_severity <= 5);
    }
    return 0;
}
