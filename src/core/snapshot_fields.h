/*
 * The scalar figures of a snapshot, one line each:
 *   X(id, "json.path", struct member, unit, kind, decimals, help)
 * The JSON writer, the flattening and the rounding pass all walk this list, so a
 * figure added here is serialized, exported and rounded everywhere at once.
 * Member paths are relative to struct snapshot except the MODEL_FIELDS, which are
 * relative to struct model_inference_metrics, and the GPUS_FIELDS, relative to
 * struct gpu_device_metrics.
 */
#ifndef AM_CORE_SNAPSHOT_FIELDS_H
#define AM_CORE_SNAPSHOT_FIELDS_H

/* clang-format off */
#define CPU_FIELDS(X) \
    X(CPU_USAGE, "cpu.usage_percent", cpu.usage_percent, "percent", SERIES_GAUGE, 2, "Share of time all CPUs were busy (not idle, not iowait)") \
    X(CPU_TEMP, "cpu.temperature", cpu.temperature, "celsius", SERIES_GAUGE, 1, "CPU package temperature") \
    X(CPU_FREQ, "cpu.frequency_mhz", cpu.frequency_mhz, "MHz", SERIES_GAUGE, 1, "Mean current frequency of the online CPUs") \
    X(CPU_PROC, "cpu.process_usage", cpu.process_usage, "percent", SERIES_GAUGE, 2, "CPU used by the monitored process, percent of one core") \
    X(CPU_ONLINE, "cpu.online_cores", cpu.online_cores, "count", SERIES_GAUGE, 0, "Online CPUs") \
    X(CPU_PROC_SEC, "cpu.process_seconds_total", cpu.process_seconds_total, "seconds", SERIES_COUNTER, 2, "CPU time of the monitored process (user+system)")

#define MEMORY_FIELDS(X) \
    X(MEM_USED, "memory.physical_used_mb", memory.physical_used_mb, "MB", SERIES_GAUGE, 0, "Physical memory in use: MemTotal - MemAvailable") \
    X(MEM_TOTAL, "memory.physical_total_mb", memory.physical_total_mb, "MB", SERIES_GAUGE, 0, "Physical memory installed: MemTotal") \
    X(MEM_VIRT, "memory.virtual_used_mb", memory.virtual_used_mb, "MB", SERIES_GAUGE, 0, "Virtual memory committed: Committed_AS") \
    X(MEM_SWAP, "memory.swap_used_mb", memory.swap_used_mb, "MB", SERIES_GAUGE, 0, "Swap in use: SwapTotal - SwapFree") \
    X(MEM_AVAIL, "memory.available_mb", memory.available_mb, "MB", SERIES_GAUGE, 0, "Memory available for new work: MemAvailable") \
    X(MEM_SWAP_TOTAL, "memory.swap_total_mb", memory.swap_total_mb, "MB", SERIES_GAUGE, 0, "Swap configured: SwapTotal") \
    X(MEM_PROC_RSS, "memory.process_rss_mb", memory.process_rss_mb, "MB", SERIES_GAUGE, 2, "Resident memory of the monitored process") \
    X(MEM_PROC_VIRT, "memory.process_virtual_mb", memory.process_virtual_mb, "MB", SERIES_GAUGE, 2, "Virtual size of the monitored process")

#define GC_FIELDS(X) \
    X(GC_TOTAL, "memory.gc_metrics.collections_total", memory.gc_metrics.collections_total, "count", SERIES_COUNTER, 0, "Garbage collections reported by the node") \
    X(GC_RATE, "memory.gc_metrics.collections_per_sec", memory.gc_metrics.collections_per_sec, "1/s", SERIES_GAUGE, 3, "Garbage collections per second") \
    X(GC_AVG, "memory.gc_metrics.avg_pause_ms", memory.gc_metrics.avg_pause_ms, "ms", SERIES_GAUGE, 3, "Mean GC pause in the interval") \
    X(GC_MAX, "memory.gc_metrics.max_pause_ms", memory.gc_metrics.max_pause_ms, "ms", SERIES_GAUGE, 3, "Longest GC pause in the interval")

#define DISK_FIELDS(X) \
    X(DISK_ROPS, "disk.read_ops_per_sec", disk.read_ops_per_sec, "ops/s", SERIES_GAUGE, 2, "Reads completed per second, all real block devices") \
    X(DISK_WOPS, "disk.write_ops_per_sec", disk.write_ops_per_sec, "ops/s", SERIES_GAUGE, 2, "Writes completed per second, all real block devices") \
    X(DISK_RMB, "disk.read_mbps", disk.read_mbps, "MB/s", SERIES_GAUGE, 3, "Bytes read per second, MiB/s") \
    X(DISK_WMB, "disk.write_mbps", disk.write_mbps, "MB/s", SERIES_GAUGE, 3, "Bytes written per second, MiB/s") \
    X(DISK_USAGE, "disk.usage_percent", disk.usage_percent, "percent", SERIES_GAUGE, 2, "Used share of the watched file system, as df") \
    X(DISK_AVAIL, "disk.available_gb", disk.available_gb, "GB", SERIES_GAUGE, 3, "Space available to unprivileged users on the watched file system, GiB") \
    X(DISK_TOTAL, "disk.total_gb", disk.total_gb, "GB", SERIES_GAUGE, 3, "Size of the watched file system, GiB") \
    X(DISK_READS, "disk.reads_total", disk.reads_total, "count", SERIES_COUNTER, 0, "Reads completed since boot") \
    X(DISK_WRITES, "disk.writes_total", disk.writes_total, "count", SERIES_COUNTER, 0, "Writes completed since boot") \
    X(DISK_RBYTES, "disk.read_bytes_total", disk.read_bytes_total, "bytes", SERIES_COUNTER, 0, "Bytes read since boot") \
    X(DISK_WBYTES, "disk.written_bytes_total", disk.written_bytes_total, "bytes", SERIES_COUNTER, 0, "Bytes written since boot") \
    X(DISK_DEVS, "disk.devices", disk.devices, "count", SERIES_GAUGE, 0, "Real block devices summed")

#define NETWORK_FIELDS(X) \
    X(NET_IN, "network.ingress_kbps", network.ingress_kbps, "KB/s", SERIES_GAUGE, 2, "Bytes received per second, KiB/s, loopback excluded") \
    X(NET_OUT, "network.egress_kbps", network.egress_kbps, "KB/s", SERIES_GAUGE, 2, "Bytes sent per second, KiB/s, loopback excluded") \
    X(NET_LOSS, "network.packet_loss_percent", network.packet_loss_percent, "percent", SERIES_GAUGE, 3, "TCP segments retransmitted over all segments sent in the interval") \
    X(NET_LAT, "network.latency_ms", network.latency_ms, "ms", SERIES_GAUGE, 3, "Mean smoothed RTT of the P2P connections") \
    X(NET_P2P, "network.p2p_connections", network.p2p_connections, "count", SERIES_GAUGE, 0, "Established TCP connections on the P2P ports") \
    X(NET_SOCK, "network.open_sockets", network.open_sockets, "count", SERIES_GAUGE, 0, "Sockets in use (sockstat)") \
    X(NET_RX, "network.received_bytes_total", network.received_bytes_total, "bytes", SERIES_COUNTER, 0, "Bytes received since boot, loopback excluded") \
    X(NET_TX, "network.sent_bytes_total", network.sent_bytes_total, "bytes", SERIES_COUNTER, 0, "Bytes sent since boot, loopback excluded") \
    X(NET_SEGS, "network.tcp_segments_sent_total", network.tcp_segments_sent_total, "count", SERIES_COUNTER, 0, "TCP segments sent since boot") \
    X(NET_RETR, "network.tcp_segments_retransmitted_total", network.tcp_segments_retransmitted_total, "count", SERIES_COUNTER, 0, "TCP segments retransmitted since boot")

#define GPU_FIELDS(X) \
    X(GPU_USAGE, "gpu.usage_percent", gpu.usage_percent, "percent", SERIES_GAUGE, 1, "GPU busy time, mean over the GPUs") \
    X(GPU_MEMU, "gpu.memory_used_mb", gpu.memory_used_mb, "MB", SERIES_GAUGE, 0, "GPU memory in use, all GPUs") \
    X(GPU_MEMT, "gpu.memory_total_mb", gpu.memory_total_mb, "MB", SERIES_GAUGE, 0, "GPU memory installed, all GPUs") \
    X(GPU_TEMP, "gpu.temperature", gpu.temperature, "celsius", SERIES_GAUGE, 1, "Temperature of the hottest GPU") \
    X(GPU_TENSOR, "gpu.tensor_core_util", gpu.tensor_core_util, "percent", SERIES_GAUGE, 1, "Tensor pipe activity, mean over the GPUs") \
    X(GPU_CORE, "gpu.core_util", gpu.core_util, "percent", SERIES_GAUGE, 1, "Share of time a kernel ran, mean over the GPUs") \
    X(GPU_QSIM, "gpu.quantum_sim_usage", gpu.quantum_sim_usage, "percent", SERIES_GAUGE, 2, "GPU share used by quantum simulation, as reported by the node") \
    X(GPU_POWER, "gpu.power_watts", gpu.power_watts, "W", SERIES_GAUGE, 3, "Power drawn by all GPUs")

/* Relative to struct gpu_device_metrics; labelled gpu=INDEX,name=NAME,uuid=UUID. */
#define GPUS_FIELDS(X) \
    X(GPUS_USAGE, "gpus.usage_percent", usage_percent, "percent", SERIES_GAUGE, 1, "Share of time one GPU ran a kernel") \
    X(GPUS_MEMU, "gpus.memory_used_mb", memory_used_mb, "MB", SERIES_GAUGE, 0, "Memory in use on one GPU") \
    X(GPUS_MEMT, "gpus.memory_total_mb", memory_total_mb, "MB", SERIES_GAUGE, 0, "Memory installed on one GPU") \
    X(GPUS_TEMP, "gpus.temperature", temperature, "celsius", SERIES_GAUGE, 1, "Temperature of one GPU") \
    X(GPUS_POWER, "gpus.power_watts", power_watts, "W", SERIES_GAUGE, 3, "Power drawn by one GPU board") \
    X(GPUS_CLK_SM, "gpus.clock_sm_mhz", clock_sm_mhz, "MHz", SERIES_GAUGE, 0, "Current SM clock of one GPU") \
    X(GPUS_CLK_MEM, "gpus.clock_memory_mhz", clock_memory_mhz, "MHz", SERIES_GAUGE, 0, "Current memory clock of one GPU") \
    X(GPUS_TENSOR, "gpus.tensor_core_util", tensor_core_util, "percent", SERIES_GAUGE, 1, "Tensor pipe activity of one GPU") \
    X(GPUS_CORE, "gpus.core_util", core_util, "percent", SERIES_GAUGE, 1, "Share of time one GPU ran a kernel (NVML utilization.gpu)")

#define NODE_FIELDS(X) \
    X(NODE_TPS, "node.transactions_per_sec", node.transactions_per_sec, "tx/s", SERIES_GAUGE, 3, "Transactions validated per second") \
    X(NODE_VAL, "node.avg_tx_validation_ms", node.avg_tx_validation_ms, "ms", SERIES_GAUGE, 3, "Mean transaction validation time") \
    X(NODE_BPM, "node.blocks_per_min", node.blocks_per_min, "blocks/min", SERIES_GAUGE, 3, "Blocks produced per minute") \
    X(NODE_BSZ, "node.avg_block_size_kb", node.avg_block_size_kb, "KB", SERIES_GAUGE, 3, "Mean block size") \
    X(NODE_MEMPOOL, "node.mempool_size", node.mempool_size, "transactions", SERIES_GAUGE, 0, "Transactions waiting in the mempool")

#define CONSENSUS_FIELDS(X) \
    X(CONS_FIN, "node.consensus_metrics.time_to_finality_sec", node.consensus_metrics.time_to_finality_sec, "seconds", SERIES_GAUGE, 3, "Time to finality") \
    X(CONS_MSG, "node.consensus_metrics.messages_per_sec", node.consensus_metrics.messages_per_sec, "msg/s", SERIES_GAUGE, 3, "Consensus messages processed per second") \
    X(CONS_PART, "node.consensus_metrics.participation_percent", node.consensus_metrics.participation_percent, "percent", SERIES_GAUGE, 2, "Validators participating") \
    X(CONS_QRO, "node.consensus_metrics.quantum_resistant_overhead", node.consensus_metrics.quantum_resistant_overhead, "percent", SERIES_GAUGE, 2, "Extra consensus cost of quantum-resistant cryptography")

#define CONTRACT_FIELDS(X) \
    X(CTR_RATE, "node.contract_metrics.contracts_per_sec", node.contract_metrics.contracts_per_sec, "1/s", SERIES_GAUGE, 3, "Contracts executed per second") \
    X(CTR_EXEC, "node.contract_metrics.avg_execution_ms", node.contract_metrics.avg_execution_ms, "ms", SERIES_GAUGE, 3, "Mean contract execution time") \
    X(CTR_GAS, "node.contract_metrics.avg_gas_used", node.contract_metrics.avg_gas_used, "gas", SERIES_GAUGE, 0, "Mean gas used per contract execution") \
    X(CTR_WASM, "node.contract_metrics.wasm_load_ms", node.contract_metrics.wasm_load_ms, "ms", SERIES_GAUGE, 3, "Mean WASM module load time")

#define QUANTUM_FIELDS(X) \
    X(Q_QRNG, "quantum.qrng_throughput", quantum.qrng_throughput, "bits/s", SERIES_GAUGE, 0, "Random bits per second from the entropy source") \
    X(Q_PQO, "quantum.pq_crypto_overhead", quantum.pq_crypto_overhead, "percent", SERIES_GAUGE, 2, "Post-quantum cryptography overhead over the classical baseline") \
    X(Q_MERKLE, "quantum.merkle_ops_per_sec", quantum.merkle_ops_per_sec, "ops/s", SERIES_GAUGE, 1, "Quantum-resistant Merkle operations per second") \
    X(Q_SEC, "quantum.security_level_bits", quantum.security_level_bits, "bits", SERIES_GAUGE, 0, "Estimated security level against a quantum adversary")

#define QSIM_FIELDS(X) \
    X(QS_QUBITS, "quantum.simulation_metrics.qubits", quantum.simulation_metrics.qubits, "count", SERIES_GAUGE, 0, "Simulated qubits") \
    X(QS_DEPTH, "quantum.simulation_metrics.circuit_depth", quantum.simulation_metrics.circuit_depth, "count", SERIES_GAUGE, 0, "Simulated circuit depth") \
    X(QS_GATES, "quantum.simulation_metrics.gate_ops_per_sec", quantum.simulation_metrics.gate_ops_per_sec, "ops/s", SERIES_GAUGE, 1, "Simulated gate operations per second") \
    X(QS_WALL, "quantum.simulation_metrics.wall_time_ms", quantum.simulation_metrics.wall_time_ms, "ms", SERIES_GAUGE, 3, "Wall time of the last simulation")

#define MODEL_FIELDS(X) \
    X(MI_AVG, "model_inference.avg_inference_ms", avg_inference_ms, "ms", SERIES_GAUGE, 3, "Mean inference latency") \
    X(MI_P95, "model_inference.p95_inference_ms", p95_inference_ms, "ms", SERIES_GAUGE, 3, "95th percentile inference latency") \
    X(MI_P99, "model_inference.p99_inference_ms", p99_inference_ms, "ms", SERIES_GAUGE, 3, "99th percentile inference latency") \
    X(MI_TPUT, "model_inference.throughput_per_sec", throughput_per_sec, "1/s", SERIES_GAUGE, 3, "Inferences per second") \
    X(MI_ACCEL, "model_inference.accelerator_util_percent", accelerator_util_percent, "percent", SERIES_GAUGE, 2, "Accelerator utilisation during inference")

/* Figures that carry labels; written by hand in snapshot.c. */
#define LABELLED_FIELDS(X) \
    X(CPU_CORE, "cpu.core_usage", -, "percent", SERIES_GAUGE, 2, "Share of time one CPU was busy") \
    X(CPU_SECONDS, "cpu.seconds_total", -, "seconds", SERIES_COUNTER, 2, "CPU time by mode, all CPUs") \
    X(CTR_CALLS, "node.contract_metrics.function_calls", -, "count", SERIES_COUNTER, 0, "Contract calls by function") \
    X(MI_LAYER, "model_inference.layer_latencies", -, "ms", SERIES_GAUGE, 3, "Latency by model layer") \
    X(NEURAL, "neural_predictions", -, "value", SERIES_GAUGE, 4, "Prediction by the learned models")
/* clang-format on */

#endif
