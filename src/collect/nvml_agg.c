#include "nvml_agg.h"

struct acc {
    double sum, max;
    size_t n;
};

static void add(struct acc *a, double v)
{
    if (!IS_SET(v))
        return;
    a->sum += v;
    a->max = a->n ? (v > a->max ? v : a->max) : v;
    a->n++;
}

static double mean(const struct acc *a)
{
    return a->n ? a->sum / (double)a->n : ABSENT;
}

static double max_of(const struct acc *a)
{
    return a->n ? a->max : ABSENT;
}

/* the sum when all n devices gave the figure */
static double total(const struct acc *a, size_t n)
{
    return a->n && a->n == n ? a->sum : ABSENT;
}

void nvml_aggregate(const struct gpu_device_metrics *dev, size_t n, struct gpu_metrics *agg)
{
    struct acc usage = {0}, core = {0}, tensor = {0}, temp = {0}, used = {0}, tot = {0},
               power = {0};

    for (size_t i = 0; i < n; i++) {
        add(&usage, dev[i].usage_percent);
        add(&core, dev[i].core_util);
        add(&tensor, dev[i].tensor_core_util);
        add(&temp, dev[i].temperature);
        add(&used, dev[i].memory_used_mb);
        add(&tot, dev[i].memory_total_mb);
        add(&power, dev[i].power_watts);
    }
    agg->usage_percent = mean(&usage);
    agg->core_util = mean(&core);
    agg->tensor_core_util = mean(&tensor);
    agg->temperature = max_of(&temp);
    agg->memory_used_mb = total(&used, n);
    agg->memory_total_mb = total(&tot, n);
    agg->power_watts = total(&power, n);
}
