/*
 * State file of hacd (see persist.h). Owns only the file format and the
 * atomic replace; what goes in it is state_pb.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/persist.h"
#include "cluster/state_pb.h"
#include "hv/log.h"

static const char cl_magic[8] = { 'F', 'E', 'R', 'R', 'Y', 'C', 'S', 'T' };
#define CL_HDR_LEN 20

uint32_t cl_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void cl_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t cl_get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static int cl_write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cl_fsync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int cl_write_file(const char *tmp, const uint8_t *hdr,
			 const uint8_t *body, size_t len)
{
	int fd, rc;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = cl_write_all(fd, hdr, CL_HDR_LEN);
	if (rc == 0)
		rc = cl_write_all(fd, body, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int cl_persist_save(const char *path, const struct cl_state *s)
{
	uint8_t hdr[CL_HDR_LEN], *body = NULL;
	char tmp[PATH_MAX];
	size_t len;
	int rc;

	rc = cl_state_pack(s, &body, &len);
	if (rc < 0)
		goto out;
	memcpy(hdr, cl_magic, sizeof(cl_magic));
	cl_put32(hdr + 8, CL_PERSIST_VERSION);
	cl_put32(hdr + 12, (uint32_t)len);
	cl_put32(hdr + 16, cl_crc32c(0, body, len));
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	rc = cl_write_file(tmp, hdr, body, len);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0)
		rc = cl_fsync_dir(path);
	if (rc < 0)
		unlink(tmp);
out:
	if (rc < 0)
		log_err("state file %s: cannot save: %s", path, strerror(-rc));
	free(body);
	return rc;
}

static int cl_read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return -EIO;
	}
	if (size > CL_PERSIST_MAX + CL_HDR_LEN) {
		fclose(f);
		return -E2BIG;
	}
	buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		fclose(f);
		return buf ? -EIO : -ENOMEM;
	}
	fclose(f);
	*out = buf;
	*len = (size_t)size;
	return 0;
}

static int cl_check_header(const uint8_t *buf, size_t len, const char **what)
{
	if (len < CL_HDR_LEN || memcmp(buf, cl_magic, sizeof(cl_magic))) {
		*what = "not a Ferry cluster state file";
		return -EBADMSG;
	}
	if (cl_get32(buf + 8) != CL_PERSIST_VERSION) {
		*what = "unsupported format version";
		return -EPROTONOSUPPORT;
	}
	if (cl_get32(buf + 12) != len - CL_HDR_LEN) {
		*what = "length does not match the file (truncated?)";
		return -EBADMSG;
	}
	if (cl_get32(buf + 16) != cl_crc32c(0, buf + CL_HDR_LEN,
					    len - CL_HDR_LEN)) {
		*what = "CRC32C mismatch";
		return -EBADMSG;
	}
	return 0;
}

int cl_persist_load(const char *path, struct cl_state *s)
{
	const char *what = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = cl_read_file(path, &buf, &len);
	if (rc == -ENOENT)
		return rc;
	if (rc == 0)
		rc = cl_check_header(buf, len, &what);
	if (rc == 0) {
		rc = cl_state_unpack(buf + CL_HDR_LEN, len - CL_HDR_LEN, s);
		what = rc == -E2BIG ? "more nodes or vms than supported" :
				      "unreadable state";
	}
	if (rc < 0)
		log_err("state file %s: %s", path, what ? what : strerror(-rc));
	free(buf);
	return rc;
}
