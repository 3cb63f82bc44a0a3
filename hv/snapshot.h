/*
 * Snapshot files: the whole VM written to a file in the stream format,
 * atomically (temporary name, fsync, rename), so a failed snapshot leaves
 * any earlier file at that path intact. Runs on the main thread.
 */
#ifndef HV_SNAPSHOT_H
#define HV_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

struct snapshot_report {
	uint64_t bytes;
	uint64_t pages;
	uint64_t paused_ns; /* vCPUs stopped */
	uint64_t total_ns;
};

/* Pauses the VM (unless already paused), writes @path, then resumes it —
 * or, with @stop, stops the VM once the file is safely on disk. On failure
 * the VM runs on as before and @path is untouched. Returns 0 or -errno
 * (logged, e.g. -ENOSPC). */
int snapshot_write(struct vm *vm, const char *path, bool stop,
		   struct snapshot_report *rep);

#endif
