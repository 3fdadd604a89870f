/* The one table of host collectors: adding a source is a new file and one line here. */
#include "collector.h"

const struct collector_ops *const collector_table[] = {
    &coll_cpu,     &coll_memory, &coll_disk, &coll_network,
    &coll_process, &coll_gpu,    &coll_node, &coll_quantum,
};

const unsigned collector_table_len = sizeof(collector_table) / sizeof(collector_table[0]);
