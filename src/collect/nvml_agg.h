/*
 * The snapshot's gpu object from its gpus list: pure (no I/O, no NVML), so the
 * unit tests drive it directly. The rules (docs/metrics.md):
 *
 *   usage_percent, core_util, tensor_core_util   mean over the GPUs that give it
 *   temperature                                  the hottest GPU
 *   memory_used_mb, memory_total_mb, power_watts sum over every GPU, null unless
 *                                                every GPU gives it (a partial
 *                                                sum would read as the total)
 *
 * A figure no GPU gives is null (NaN). quantum_sim_usage, which the node reports,
 * is never written.
 */
#ifndef AM_COLLECT_NVML_AGG_H
#define AM_COLLECT_NVML_AGG_H

#include <stddef.h>

#include "core/snapshot.h"

/* Writes every figure of *agg but quantum_sim_usage from dev[0..n). Thread-safe. */
void nvml_aggregate(const struct gpu_device_metrics *dev, size_t n, struct gpu_metrics *agg);

#endif
