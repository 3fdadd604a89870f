/*
 * The part of NVML (the NVIDIA Management Library, libnvidia-ml.so.1, which
 * ships with the driver) that the GPU collector uses, declared here from
 * NVIDIA's documented C ABI so that building arthamon needs neither CUDA nor
 * the driver: the library is loaded at run time (gpu.c), and a host without
 * it simply has no GPU figures.
 *
 * Only what is used is declared. Return codes are NVML's nvmlReturn_t values
 * (an enum: int-sized); enumerations passed by value (temperature sensor,
 * clock type) are unsigned int; the structures have NVML's layout. The
 * function types carry NVML's own symbol names in their comments.
 */
#ifndef AM_COLLECT_NVML_H
#define AM_COLLECT_NVML_H

#define NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"

/* nvmlReturn_t */
#define NVML_SUCCESS                         0
#define NVML_ERROR_UNINITIALIZED             1
#define NVML_ERROR_INVALID_ARGUMENT          2
#define NVML_ERROR_NOT_SUPPORTED             3
#define NVML_ERROR_NO_PERMISSION             4
#define NVML_ERROR_NOT_FOUND                 6
#define NVML_ERROR_INSUFFICIENT_SIZE         7
#define NVML_ERROR_DRIVER_NOT_LOADED         9
#define NVML_ERROR_TIMEOUT                   10
#define NVML_ERROR_LIBRARY_NOT_FOUND         12
#define NVML_ERROR_FUNCTION_NOT_FOUND        13
#define NVML_ERROR_GPU_IS_LOST               15
#define NVML_ERROR_ARGUMENT_VERSION_MISMATCH 25
#define NVML_ERROR_UNKNOWN                   999

/* nvmlTemperatureSensors_t */
#define NVML_TEMPERATURE_GPU 0u
/* nvmlClockType_t */
#define NVML_CLOCK_SM  1u
#define NVML_CLOCK_MEM 2u

/* NVML_DEVICE_NAME_V2_BUFFER_SIZE and NVML_DEVICE_UUID_V2_BUFFER_SIZE */
#define NVML_NAME_BUFFER 96
#define NVML_UUID_BUFFER 96
/* NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE */
#define NVML_DRIVER_BUFFER 80

/* nvmlDevice_t: an opaque handle, valid from nvmlInit_v2 to nvmlShutdown */
struct nvml_device;

/* nvmlUtilization_t: percent of the last sample period (1/6 s to 1 s, by product) */
struct nvml_utilization {
    unsigned int gpu;    /* a kernel was running */
    unsigned int memory; /* device memory was being read or written */
};

/* nvmlMemory_t (nvmlDeviceGetMemoryInfo): bytes; used = total - free, so it
 * includes what the driver reserves for itself */
struct nvml_memory {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
};

/* nvmlMemory_v2_t (nvmlDeviceGetMemoryInfo_v2, drivers from R510): bytes;
 * used excludes the driver's reservation, as nvidia-smi's memory.used */
struct nvml_memory_v2 {
    unsigned int version; /* NVML_MEMORY_V2_VERSION */
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
};

/* NVML_STRUCT_VERSION(Memory, 2): the structure's size and its version in the top byte */
#define NVML_MEMORY_V2_VERSION ((unsigned int)(sizeof(struct nvml_memory_v2) | (2u << 24)))

/* The functions, under NVML's names (nvmlXxx), as a table filled by dlsym. */
struct nvml_api {
    int (*init_v2)(void);                                          /* nvmlInit_v2 */
    int (*shutdown)(void);                                         /* nvmlShutdown */
    const char *(*error_string)(int rc);                           /* nvmlErrorString */
    int (*system_get_driver_version)(char *buf, unsigned int len); /* optional */
    int (*device_get_count_v2)(unsigned int *ret_count);           /* nvmlDeviceGetCount_v2 */
    int (*device_get_handle_by_index_v2)(unsigned int index, struct nvml_device **ret_dev);
    int (*device_get_name)(struct nvml_device *dev, char *buf, unsigned int len);
    int (*device_get_uuid)(struct nvml_device *dev, char *buf, unsigned int len);
    int (*device_get_utilization_rates)(struct nvml_device *dev, struct nvml_utilization *ret);
    int (*device_get_memory_info)(struct nvml_device *dev, struct nvml_memory *ret);
    /* optional: nvmlDeviceGetMemoryInfo_v2 */
    int (*device_get_memory_info_v2)(struct nvml_device *dev, struct nvml_memory_v2 *ret);
    int (*device_get_temperature)(struct nvml_device *dev, unsigned int sensor,
                                  unsigned int *ret_celsius);
    int (*device_get_power_usage)(struct nvml_device *dev, unsigned int *ret_milliwatts);
    int (*device_get_clock_info)(struct nvml_device *dev, unsigned int type, unsigned int *ret_mhz);
};

#endif
