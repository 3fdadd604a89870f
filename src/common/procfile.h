/*
 * A kernel file (procfs, sysfs) opened once and re-read on every tick.
 *
 * procfile_open() resolves `rel` under `root` ("/proc", "/host/proc", a test
 * fixture tree) and keeps the descriptor (O_RDONLY | O_CLOEXEC). procfile_read()
 * re-reads the whole file from offset 0 with pread() into an internal buffer that
 * grows as needed up to PROCFILE_MAX, and NUL-terminates it: the kernel renders
 * the file again, nothing is opened or closed. The buffer belongs to the procfile
 * and stays valid until the next read or procfile_free().
 * A procfile is used by one thread at a time.
 */
#ifndef AM_COMMON_PROCFILE_H
#define AM_COMMON_PROCFILE_H

#include <stddef.h>

#define PROCFILE_MAX ((size_t)16 << 20)

struct procfile {
    int fd;
    size_t len; /* bytes of the last read */
    size_t cap;
    char *buf;
    unsigned long reads;          /* procfile_read() calls, for diagnostics and bench/tick */
    struct procfile *prev, *next; /* every open procfile of the process */
    char path[];                  /* full path, for messages */
};

/* Join root and rel into out ("%s/%s" without doubled slashes); -ENAMETOOLONG if it does not fit.
 */
int path_join(char *out, size_t outlen, const char *root, const char *rel);

/* 0 and *ret_pf on success; -errno from open() (e.g. -ENOENT) otherwise. */
int procfile_open(const char *root, const char *rel, struct procfile **ret_pf);
/* Bytes read (>= 0) on success; -errno on failure (-ESRCH once a /proc/PID file's
 * process is gone, -EFBIG past PROCFILE_MAX). */
long procfile_read(struct procfile *pf);
void procfile_free(struct procfile *pf);

/*
 * Reads a small file under root once (open, read, close), NUL-terminated in buf:
 * for lookups at start-up or on rare events (sensor names, a pidfile, a process
 * scan), never on every tick. Returns the bytes read (at most len - 1) or -errno.
 */
long read_file_once(const char *root, const char *rel, char *buf, size_t len);

/* Calls fn for every open procfile (thread-safe; fn must not open or free one). */
void procfile_foreach(void (*fn)(void *ctx, const struct procfile *pf), void *ctx);

#endif
