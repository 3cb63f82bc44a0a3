/*
 * The cluster state file every hacd keeps, so a whole-cluster restart
 * recovers VM definitions and placement. Layout: 8-byte magic "FERRYCST",
 * u32 format version (1), u32 body length, u32 CRC32C of the body (all
 * little endian), then a packed ferry.cluster.State. Blocking file I/O on
 * the caller's thread.
 */
#ifndef CLUSTER_PERSIST_H
#define CLUSTER_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/state.h"

#define CL_PERSIST_VERSION 1
#define CL_PERSIST_MAX (16 * 1024 * 1024)

/* Writes @s to @path atomically: PATH.tmp.<pid>, fsync, rename, fsync of
 * the directory. On failure the old file stays. Returns 0 or -errno
 * (logged). */
int cl_persist_save(const char *path, const struct cl_state *s);

/* Reads @path into @s. Returns 0, -ENOENT (no file: a fresh node, not
 * logged), or -EBADMSG / -EPROTONOSUPPORT / -E2BIG / -errno (logged, naming
 * the problem); @s is untouched on error. */
int cl_persist_load(const char *path, struct cl_state *s);

/* CRC32C (Castagnoli), software. */
uint32_t cl_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
