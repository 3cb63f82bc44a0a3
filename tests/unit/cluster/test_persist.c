/*
 * The cluster state file (cluster/persist.c): round trip, atomic replace,
 * and clear errors for a missing, truncated, corrupt or newer file.
 */
#include "tests/unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "cluster/persist.h"

static char dir[] = "/tmp/ferry-persist.XXXXXX";
static char path[256];

static void fill(struct cl_state *s)
{
	cl_state_init(s);
	s->version = 42;
	s->nnodes = 2;
	s->nodes[0] = (struct cl_node){ .id = 1, .capacity_mib = 512,
					.drained = true, .up = true };
	snprintf(s->nodes[0].name, sizeof(s->nodes[0].name), "node1");
	s->nodes[1] = (struct cl_node){ .id = 2, .capacity_mib = 1024 };
	s->nvms = 1;
	snprintf(s->vms[0].spec.name, CL_NAME_MAX, "vm1");
	snprintf(s->vms[0].spec.kernel, CL_PATH_MAX, "/k");
	snprintf(s->vms[0].spec.cmdline, CL_CMDLINE_MAX, "mode=verify");
	s->vms[0].spec.mem_mib = 64;
	s->vms[0].spec.vcpus = 2;
	s->vms[0].phase = CL_VM_PLACED;
	s->vms[0].node = 2;
	s->vms[0].incarnation = 3;
}

static void poke(long off, int whence, uint8_t xor_val, bool truncate_here)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	off_t at = lseek(fd, off, whence);

	assert_true(fd >= 0);
	if (truncate_here) {
		assert_int_equal(ftruncate(fd, at), 0);
	} else {
		assert_int_equal(pread(fd, &b, 1, at), 1);
		b ^= xor_val;
		assert_int_equal(pwrite(fd, &b, 1, at), 1);
	}
	close(fd);
}

static void test_roundtrip(void **s)
{
	static struct cl_state a, b;

	(void)s;
	fill(&a);
	assert_int_equal(cl_persist_save(path, &a), 0);
	assert_int_equal(cl_persist_load(path, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_errors(void **s)
{
	static struct cl_state a, b;
	char missing[300];

	(void)s;
	fill(&a);
	snprintf(missing, sizeof(missing), "%s/none", dir);
	log_reset();
	assert_int_equal(cl_persist_load(missing, &b), -ENOENT);
	assert_int_equal(log_errors(), 0);

	assert_int_equal(cl_persist_save(path, &a), 0);
	poke(-1, SEEK_END, 0x40, false);
	log_reset();
	assert_int_equal(cl_persist_load(path, &b), -EBADMSG);
	assert_logged_once("CRC32C");

	assert_int_equal(cl_persist_save(path, &a), 0);
	poke(-3, SEEK_END, 0, true);
	log_reset();
	assert_int_equal(cl_persist_load(path, &b), -EBADMSG);
	assert_logged_once("truncated");

	assert_int_equal(cl_persist_save(path, &a), 0);
	poke(8, SEEK_SET, 0x07, false);
	log_reset();
	assert_int_equal(cl_persist_load(path, &b), -EPROTONOSUPPORT);
	assert_logged_once("version");

	assert_int_equal(cl_persist_save(path, &a), 0);
	poke(0, SEEK_SET, 0x01, false);
	log_reset();
	assert_int_equal(cl_persist_load(path, &b), -EBADMSG);
	assert_logged_once("not a Ferry cluster state file");
}

static void test_crc32c(void **s)
{
	(void)s;
	/* The standard check value of CRC-32C. */
	assert_int_equal(cl_crc32c(0, "123456789", 9), 0xe3069283);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_crc32c),
	};
	int rc;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cluster.state", dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	rmdir(dir);
	return rc;
}
