/* The configuration loader on arbitrary YAML: errors are reported, never a crash,
 * a leak or unbounded work. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg, copy;
    struct strbuf errs;
    char *buf = malloc(size ? size : 1);

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    config_defaults(&cfg);
    strbuf_init(&errs, 1 << 16);
    if (config_load_buffer(&cfg, "fuzz.yaml", buf, size, &errs) == 0 &&
        config_copy(&copy, &cfg) == 0)
        config_done(&copy);
    config_done(&cfg);
    strbuf_done(&errs);
    free(buf);
    return 0;
}
