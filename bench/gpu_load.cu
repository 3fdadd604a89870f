// A GPU load for bench/gpu_check.sh: on every visible GPU, allocates MEM_MIB MiB
// (written once, so the driver commits it) and keeps every SM busy with chains of
// FMAs for SECONDS, then frees everything and exits 0 (1 on a CUDA error).
//
//   gpu_load [SECONDS [MEM_MIB]]        (defaults: 25 s, 8192 MiB)
//
// It prints one line when the memory is allocated and the load starts, so that the
// script knows when to measure.
#include <chrono>
#include <cstdio>
#include <vector>

#include <cuda_runtime.h>

#define CHECK(call)                                                                         \
    do {                                                                                    \
        cudaError_t e_ = (call);                                                            \
        if (e_ != cudaSuccess) {                                                            \
            std::fprintf(stderr, "gpu_load: %s: %s\n", #call, cudaGetErrorString(e_));      \
            return 1;                                                                       \
        }                                                                                   \
    } while (0)

__global__ void burn(float *sink, int iters)
{
    float a = threadIdx.x * 1e-3f, b = 1.0001f, c = 0.9999f;

    for (int i = 0; i < iters; i++) {
        a = fmaf(a, b, c);
        b = fmaf(b, c, a * 1e-7f);
    }
    if (a == 12345.0f) // (never: keeps the loop from being optimised away)
        sink[blockIdx.x] = a + b;
}

int main(int argc, char **argv)
{
    double seconds = 25;
    unsigned long mem_mib = 8192;
    int n = 0;

    if (argc > 1 && std::sscanf(argv[1], "%lf", &seconds) != 1)
        return 2;
    if (argc > 2 && std::sscanf(argv[2], "%lu", &mem_mib) != 1)
        return 2;
    CHECK(cudaGetDeviceCount(&n));
    if (n == 0) {
        std::fprintf(stderr, "gpu_load: no CUDA device\n");
        return 1;
    }
    std::vector<void *> mem(n, nullptr);
    std::vector<float *> sink(n, nullptr);
    std::vector<int> blocks(n, 0);
    for (int d = 0; d < n; d++) {
        cudaDeviceProp p;
        size_t bytes = (size_t)mem_mib << 20;

        CHECK(cudaSetDevice(d));
        CHECK(cudaGetDeviceProperties(&p, d));
        CHECK(cudaMalloc(&mem[d], bytes));
        CHECK(cudaMemset(mem[d], 1, bytes));
        blocks[d] = p.multiProcessorCount * 8;
        CHECK(cudaMalloc(&sink[d], blocks[d] * sizeof(float)));
        CHECK(cudaDeviceSynchronize());
    }
    std::printf("gpu_load: %d GPU%s, %lu MiB each, busy for %.0f s\n", n, n == 1 ? "" : "s",
                mem_mib, seconds);
    std::fflush(stdout);
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
        for (int d = 0; d < n; d++) {
            CHECK(cudaSetDevice(d));
            for (int k = 0; k < 4; k++)
                burn<<<blocks[d], 256>>>(sink[d], 1 << 18);
            CHECK(cudaGetLastError());
        }
        for (int d = 0; d < n; d++) {
            CHECK(cudaSetDevice(d));
            CHECK(cudaDeviceSynchronize());
        }
    }
    for (int d = 0; d < n; d++) {
        CHECK(cudaSetDevice(d));
        CHECK(cudaFree(mem[d]));
        CHECK(cudaFree(sink[d]));
    }
    return 0;
}
