/*
 * hv/run_opts.c: `hv run` options and sizes. Every bad option must give
 * -EINVAL with one error line naming it; parsing twice in one process
 * (as tests and a future `hv` shell would) must not leak getopt state.
 */
#include <errno.h>

#include "tests/unit/unit.h"

#include "hv/run_opts.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int parse(int argc, char **argv, struct run_opts *o)
{
	log_reset();
	return run_opts_parse(argc, argv, o);
}

static void expect_bad(int argc, char **argv, const char *needle)
{
	struct run_opts o;

	assert_int_equal(parse(argc, argv, &o), -EINVAL);
	assert_logged_once(needle);
}

static void test_sizes(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
	    {"512M", 512ULL << 20},
	    {"512m", 512ULL << 20},
	    {"1G", 1ULL << 30},
	    {"1g", 1ULL << 30},
	    {"4096K", 4096ULL << 10},
	    {"8k", 8ULL << 10},
	    {"2T", 2ULL << 40},
	    {"512", 512ULL << 20},
	    {"512MB", 512ULL << 20},
	    {"1GB", 1ULL << 30},
	    {"5gb", 5ULL << 30},
	    {"16777215T", 16777215ULL << 40},
	    {"17592186044415", 17592186044415ULL << 20},
	};
	static const char *const bad[] = {
	    "",
	    "M",
	    "G1",
	    "0",
	    "0G",
	    "-1",
	    "+1",
	    " 1",
	    "1 ",
	    "1MM",
	    "1 M",
	    "1B",
	    "1X",
	    "1.5G",
	    "0x10",
	    "17592186044416",
	    "16777216T",
	    "18446744073709551616",
	    "99999999999999999999999",
	    "1Mx",
	    "1MBB",
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 0;
		if (run_parse_size(good[i].s, &v) || v != good[i].v)
			fail_msg("\"%s\" parsed to %llu, want %llu", good[i].s,
				 (unsigned long long)v,
				 (unsigned long long)good[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		if (run_parse_size(bad[i], &v) != -EINVAL || v != 12345)
			fail_msg("\"%s\" was accepted as %llu", bad[i],
				 (unsigned long long)v);
	}
	assert_int_equal(run_parse_size(NULL, &v), -EINVAL);
}

static void test_defaults(void **state)
{
	char *argv[] = {"run", "--kernel", "probe.elf"};
	struct run_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &o), 0);
	assert_int_equal(log_errors(), 0);
	assert_string_equal(o.kernel, "probe.elf");
	assert_null(o.initrd);
	assert_null(o.cmdline);
	assert_null(o.control);
	assert_null(o.name);
	assert_int_equal(o.mem_size, RUN_DEFAULT_MEM);
	assert_int_equal(o.nr_vcpus, 1);
	assert_int_equal(o.serial, RUN_SERIAL_STDIO);
	assert_null(o.serial_path);
	assert_false(o.test_hooks);
}

static void test_all_options(void **state)
{
	char *argv[] = {"run",
			"--kernel",
			"k",
			"--initrd",
			"i",
			"--cmdline",
			"a b=c",
			"--mem",
			"1G",
			"--cpus",
			"4",
			"--serial",
			"file:/tmp/console",
			"--control",
			"/run/vm.sock",
			"--name",
			"vm1",
			"--test-hooks"};
	struct run_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &o), 0);
	assert_string_equal(o.kernel, "k");
	assert_string_equal(o.initrd, "i");
	assert_string_equal(o.cmdline, "a b=c");
	assert_int_equal(o.mem_size, 1ULL << 30);
	assert_int_equal(o.nr_vcpus, 4);
	assert_int_equal(o.serial, RUN_SERIAL_FILE);
	assert_string_equal(o.serial_path, "/tmp/console");
	assert_string_equal(o.control, "/run/vm.sock");
	assert_string_equal(o.name, "vm1");
	assert_true(o.test_hooks);
}

static void test_equals_and_repeats(void **state)
{
	char *argv[] = {"run",	      "--mem=2G",      "--kernel=a",
			"--cpus=255", "--serial=none", "--serial=stdio",
			"--kernel=b"};
	struct run_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &o), 0);
	assert_int_equal(o.mem_size, 2ULL << 30);
	assert_int_equal(o.nr_vcpus, 255);
	assert_int_equal(o.serial, RUN_SERIAL_STDIO);
	assert_null(o.serial_path);
	assert_string_equal(o.kernel, "b");
}

static void test_bad_values(void **state)
{
	char *mem0[] = {"run", "--kernel", "k", "--mem", "0"};
	char *memx[] = {"run", "--kernel", "k", "--mem", "12X"};
	char *cpu0[] = {"run", "--kernel", "k", "--cpus", "0"};
	char *cpu256[] = {"run", "--kernel", "k", "--cpus", "256"};
	char *cpux[] = {"run", "--kernel", "k", "--cpus", "2x"};
	char *cpue[] = {"run", "--kernel", "k", "--cpus", ""};
	char *cpuneg[] = {"run", "--kernel", "k", "--cpus", "-1"};
	char *ser[] = {"run", "--kernel", "k", "--serial", "tty"};
	char *serf[] = {"run", "--kernel", "k", "--serial", "file:"};

	(void)state;
	expect_bad(ARGC(mem0), mem0, "--mem 0");
	expect_bad(ARGC(memx), memx, "--mem 12X");
	expect_bad(ARGC(cpu0), cpu0, "--cpus 0");
	expect_bad(ARGC(cpu256), cpu256, "--cpus 256");
	expect_bad(ARGC(cpux), cpux, "--cpus 2x");
	expect_bad(ARGC(cpue), cpue, "--cpus");
	expect_bad(ARGC(cpuneg), cpuneg, "--cpus -1");
	expect_bad(ARGC(ser), ser, "--serial tty");
	expect_bad(ARGC(serf), serf, "--serial file:");
}

static void test_bad_usage(void **state)
{
	char *none[] = {"run"};
	char *nokernel[] = {"run", "--mem", "1G"};
	char *unknown[] = {"run", "--kernel", "k", "--bogus"};
	char *novalue[] = {"run", "--kernel", "k", "--mem"};
	char *extra[] = {"run", "--kernel", "k", "stray"};
	char *shortopt[] = {"run", "-x", "--kernel", "k"};

	(void)state;
	expect_bad(ARGC(none), none, "--kernel");
	expect_bad(ARGC(nokernel), nokernel, "--kernel");
	expect_bad(ARGC(unknown), unknown, "--bogus");
	expect_bad(ARGC(novalue), novalue, "--mem");
	expect_bad(ARGC(extra), extra, "stray");
	expect_bad(ARGC(shortopt), shortopt, "-x");
}

/* --restore: the snapshot carries the guest, so no --kernel, and sizes
 * stay 0 ("not given") unless the operator gave them. */
static void test_restore(void **state)
{
	char *plain[] = {"run", "--restore", "snap.ferry"};
	char *sized[] = {"run", "--restore", "s", "--mem", "1G", "--cpus", "2"};
	char *both[] = {"run", "--restore", "s", "--kernel", "k"};
	struct run_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(plain), plain, &o), 0);
	assert_string_equal(o.restore, "snap.ferry");
	assert_null(o.kernel);
	assert_int_equal(o.mem_size, 0);
	assert_int_equal(o.nr_vcpus, 0);
	assert_int_equal(parse(ARGC(sized), sized, &o), 0);
	assert_int_equal(o.mem_size, 1ULL << 30);
	assert_int_equal(o.nr_vcpus, 2);
	expect_bad(ARGC(both), both, "--restore");
}

/* An error inside a cluster of short options ("-xy") must name the
 * argument, not its neighbour (argv[optind - 1] is the previous one while
 * getopt is still inside the cluster). */
static void test_cluster_error_names_it(void **state)
{
	char *cluster[] = {"run", "--kernel", "k", "-xy"};

	(void)state;
	expect_bad(ARGC(cluster), cluster, "-x");
}

/* The error above leaves getopt midway through "-xy"; the next parse in the
 * same process must start clean (glibc resets only when optind is 0). */
static void test_reparse_after_cluster(void **state)
{
	char *cluster[] = {"run", "-xy", "--kernel", "k"};
	char *good[] = {"run", "--kernel", "k2"};
	struct run_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(cluster), cluster, &o), -EINVAL);
	if (parse(ARGC(good), good, &o) != 0)
		fail_msg("a good command line failed after an earlier error: "
			 "\"%s\"",
			 unit_log_last);
	assert_string_equal(o.kernel, "k2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_all_options),
	    cmocka_unit_test(test_equals_and_repeats),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_bad_usage),
	    cmocka_unit_test(test_restore),
	    cmocka_unit_test(test_cluster_error_names_it),
	    cmocka_unit_test(test_reparse_after_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
