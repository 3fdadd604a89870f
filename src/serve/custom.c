#include "custom.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sketch.h"

void custom_value_of(const struct agg_series_info *i, struct custom_value *ret)
{
    struct custom_value v = {.value = NAN, .sum = NAN, .unit = i->timer ? "s" : NULL};

    switch (i->kind) {
    case AGG_COUNTER:
        v.kind = "counter";
        v.value = i->value;
        break;
    case AGG_GAUGE:
        v.kind = "gauge";
        v.value = i->value;
        break;
    case AGG_SET:
        v.kind = "set";
        v.value = i->distinct;
        break;
    case AGG_HISTOGRAM:
    default:
        v.kind = "histogram";
        v.sum = i->value;
        v.count = i->count;
        if (i->sketch) {
            /* (a view is a few KiB: on the heap, once per call) */
            struct am_sketch_view *view = malloc(sizeof(*view));
            v.kind = "summary";
            if (view) {
                am_sketch_snapshot(i->sketch, view);
                v.count = am_sketch_view_count(view);
                v.sum = am_sketch_view_sum(view);
                free(view);
            } else {
                v.sum = NAN;
                v.count = 0;
            }
        }
        v.value = v.count ? v.sum / (double)v.count : NAN;
        break;
    }
    *ret = v;
}

void custom_figure(struct strbuf *sb, const struct agg_series_info *i)
{
    strbuf_append(sb, i->name, i->name_len);
    if (!i->n_labels)
        return;
    strbuf_putc(sb, '{');
    for (size_t k = 0; k < i->n_labels; k++) {
        const struct agg_label *l = &i->labels[k];
        if (k)
            strbuf_putc(sb, ',');
        strbuf_append(sb, l->key, l->key_len);
        if (l->value_len) {
            strbuf_putc(sb, '=');
            strbuf_append(sb, l->value, l->value_len);
        }
    }
    strbuf_putc(sb, '}');
}

struct json_ctx {
    struct strbuf *out;
    size_t limit, n, total;
    char tmp[AGG_KEY_MAX + 1];
};

/* s[0, n) as a JSON string (the parts of a key are not NUL-ended one by one). */
static void json_span(struct json_ctx *c, const char *s, size_t n)
{
    if (n > AGG_KEY_MAX)
        n = AGG_KEY_MAX;
    memcpy(c->tmp, s, n);
    c->tmp[n] = 0;
    strbuf_json_str(c->out, c->tmp);
}

static void json_one(void *ctx, const struct agg_series_info *i)
{
    struct json_ctx *c = ctx;
    struct strbuf *o = c->out;
    struct custom_value v;

    c->total++;
    if (c->n >= c->limit)
        return;
    custom_value_of(i, &v);
    strbuf_puts(o, c->n++ ? ",{\"name\":" : "{\"name\":");
    json_span(c, i->name, i->name_len);
    strbuf_puts(o, ",\"labels\":{");
    for (size_t k = 0; k < i->n_labels; k++) {
        if (k)
            strbuf_putc(o, ',');
        json_span(c, i->labels[k].key, i->labels[k].key_len);
        strbuf_putc(o, ':');
        json_span(c, i->labels[k].value, i->labels[k].value_len);
    }
    strbuf_printf(o, "},\"kind\":\"%s\",\"value\":", v.kind);
    strbuf_json_num(o, v.value, 6);
    if (v.count || !isnan(v.sum)) {
        strbuf_printf(o, ",\"count\":%llu,\"sum\":", (unsigned long long)v.count);
        strbuf_json_num(o, v.sum, 6);
    }
    if (v.unit)
        strbuf_printf(o, ",\"unit\":\"%s\"", v.unit);
    strbuf_putc(o, '}');
}

int custom_to_json(struct agg *a, size_t limit, struct strbuf *out)
{
    struct json_ctx *c = malloc(sizeof(*c));

    if (!c)
        return -ENOMEM;
    c->out = out;
    c->limit = limit;
    c->n = c->total = 0;
    strbuf_puts(out, "{\"series\":[");
    if (a)
        agg_foreach(a, json_one, c);
    strbuf_printf(out, "],\"total\":%zu,\"truncated\":%s}", c->total,
                  c->total > c->n ? "true" : "false");
    free(c);
    return out->overflow ? -ENOMEM : 0;
}
