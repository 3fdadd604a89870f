/*
 * The detection engine: every layer of anomaly detection, run on the sampler's
 * tick over the snapshot it has just built (before it is published).
 *
 *   rules         built-in defaults and the configuration's detection.rules,
 *                 each with a trigger level, a clear level and a for-duration
 *   series        one context detector per gauge series (series.h)
 *   multivariate  one online autoencoder over the whole snapshot (mvar.h)
 *   trend         robust trends (trend.h): the monitored process's RSS (leak
 *                 indicators), disk usage (disk-full ETA), the mempool
 *   predictions   learned forecasts (forecast.h) and trend ETAs into the
 *                 snapshot's neural_predictions, each with its confidence
 *
 * Anomalies have a lifecycle: one open anomaly per type and component, updated
 * while it lasts, resolved after detection.resolve_ticks normal ticks. The
 * learned layers stay silent during their warm-up, and their anomalies start
 * at severity 2 (below alerts.min_severity's default 3) unless another layer
 * flags the same component at the same time. Every change goes to the
 * anomaly log (core/anomaly.h), from which the store and the alerts take it.
 *
 * An engine belongs to the sampler thread: not thread-safe.
 */
#ifndef AM_DETECT_ENGINE_H
#define AM_DETECT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/anomaly.h"
#include "core/config.h"
#include "core/snapshot.h"

struct detect_engine;

/*
 * A new engine for cfg. Open anomalies already in log (kept from before a
 * restart) are adopted: the engine carries them on under the same id while
 * they last and resolves them otherwise. NULL when out of memory.
 */
struct detect_engine *detect_engine_new(const struct config *cfg, struct anomaly_log *log);
void detect_engine_free(struct detect_engine *e);

/* Takes a new configuration (rules, thresholds); what was learned is kept. */
void detect_engine_configure(struct detect_engine *e, const struct config *cfg);

/*
 * One tick: reads snap's figures, writes its neural_predictions,
 * memory.leak_indicators and detector status, and records anomaly changes in
 * the log. snap is not published yet.
 */
void detect_engine_tick(struct detect_engine *e, struct snapshot *snap);

/* True if name is a built-in rule (for detection.disabled_rules). */
bool detect_builtin_rule(const char *name);

#endif
