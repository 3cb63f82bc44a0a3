/*
 * hv/cpuid.c: the CPUID a vCPU gets, from a table shaped like
 * KVM_GET_SUPPORTED_CPUID's. Checks each rewritten leaf, that everything
 * else is left alone, and that the topology it advertises is consistent
 * for every vCPU count the filter accepts.
 */
#include <errno.h>

#include "tests/unit/unit.h"

#include "hv/cpuid.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

struct leaf {
	uint32_t function, index, flags;
	uint32_t eax, ebx, ecx, edx;
};

/* Host-like values with every bit the filter must keep set around the
 * bits it changes. */
static const struct leaf host[] = {
    {0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69},
    {1, 0, 0, 0x000906ea, 0x00100800, 0x7ffafbbf, 0xbfebfbff},
    {4, 0, SIG, 0x1c004121, 0x01c0003f, 0x3f, 0},
    {4, 1, SIG, 0x1c004122, 0x01c0003f, 0x3f, 0},
    {4, 2, SIG, 0x1c004143, 0x00c0003f, 0x3ff, 0},
    {4, 3, SIG, 0x1c03c163, 0x03c0003f, 0x2fff, 6},
    {5, 0, 0, 0x40, 0x40, 3, 0x11142120},
    {7, 0, SIG, 0, 0x029c6fbf, 0x40000000, 0xbc000400 | (1u << 29)},
    {7, 1, SIG, 0, 0, 0, 1u << 29},
    {0xa, 0, 0, 0x07300404, 0, 0, 0x603},
    {0xb, 0, SIG, 1, 2, 0x100, 7},
    {0xb, 1, SIG, 4, 12, 0x201, 7},
    {0xb, 2, SIG, 0, 0, 2, 7},
    {0xd, 0, SIG, 0x1f, 0x440, 0x440, 0},
    {0x1f, 0, SIG, 1, 2, 0x100, 7},
    {0x1f, 1, SIG, 4, 12, 0x201, 7},
    {0x1f, 2, SIG, 0, 0, 2, 7},
    {0x80000000, 0, 0, 0x80000008, 0, 0, 0},
    {0x80000001, 0, 0, 0, 0, 0x121 | (1u << 2), 0x2c100800},
    {0x80000008, 0, 0, 0x3027, 0, 0xf00b, 0},
};
#define NR_HOST (sizeof(host) / sizeof(host[0]))

/* Static storage: a failing assertion longjmps out without freeing, and
 * LeakSanitizer would then bury the failure under a leak report. */
static struct kvm_cpuid2 *table_in(uint64_t *buf)
{
	struct kvm_cpuid2 *c = (struct kvm_cpuid2 *)buf;

	memset(c, 0, sizeof(*c) + NR_HOST * sizeof(c->entries[0]));
	c->nent = NR_HOST;
	for (size_t i = 0; i < NR_HOST; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		e->function = host[i].function;
		e->index = host[i].index;
		e->flags = host[i].flags;
		e->eax = host[i].eax;
		e->ebx = host[i].ebx;
		e->ecx = host[i].ecx;
		e->edx = host[i].edx;
	}
	return c;
}

#define TABLE_WORDS                                                            \
	((sizeof(struct kvm_cpuid2) +                                          \
	  CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2)) /               \
	     8 +                                                               \
	 1)
static uint64_t table_a[TABLE_WORDS], table_b[TABLE_WORDS];

static struct kvm_cpuid2 *table(void)
{
	return table_in(table_a);
}

static struct kvm_cpuid2 *filtered(unsigned int id, unsigned int nr)
{
	struct kvm_cpuid2 *c = table();

	assert_int_equal(cpuid_filter(c, id, nr), 0);
	assert_int_equal(c->nent, NR_HOST);
	return c;
}

static struct kvm_cpuid_entry2 *get(struct kvm_cpuid2 *c, uint32_t fn,
				    uint32_t idx)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, idx);

	assert_non_null(e);
	return e;
}

static const struct leaf *host_leaf(uint32_t fn, uint32_t idx)
{
	for (size_t i = 0; i < NR_HOST; i++)
		if (host[i].function == fn && host[i].index == idx)
			return &host[i];
	fail_msg("no host leaf 0x%x.%u", fn, idx);
	return NULL;
}

static void test_find(void **state)
{
	struct kvm_cpuid2 *c = table();

	(void)state;
	assert_int_equal(get(c, 4, 2)->eax, 0x1c004143);
	assert_int_equal(get(c, 0xb, 1)->ebx, 12);
	assert_null(cpuid_find(c, 4, 9));
	assert_null(cpuid_find(c, 0x40000000, 0));
	/* No significant index: any index finds the leaf. */
	assert_int_equal(get(c, 1, 5)->eax, host_leaf(1, 0)->eax);
	c->nent = 0;
	assert_null(cpuid_find(c, 0, 0));
}

static void test_leaf1(void **state)
{
	struct kvm_cpuid2 *c = filtered(3, 4);
	struct kvm_cpuid_entry2 *e = get(c, 1, 0);
	const struct leaf *h = host_leaf(1, 0);

	(void)state;
	assert_int_equal(e->eax, h->eax);
	assert_int_equal(e->ebx & 0xffff, h->ebx & 0xffff);
	assert_int_equal((e->ebx >> 16) & 0xff, 4);
	assert_int_equal(e->ebx >> 24, 3);
	assert_false(e->ecx & (1u << 5)); /* VMX */
	assert_false(e->ecx & (1u << 3)); /* MONITOR */
	assert_true(e->ecx & (1u << 31)); /* hypervisor */
	assert_int_equal(e->ecx & ~((1u << 5) | (1u << 3) | (1u << 31)),
			 h->ecx & ~((1u << 5) | (1u << 3) | (1u << 31)));
	assert_true(e->edx & (1u << 28)); /* HTT */
	assert_int_equal(e->edx & ~(1u << 28), h->edx & ~(1u << 28));
}

static void test_hidden_features(void **state)
{
	struct kvm_cpuid2 *c = filtered(0, 2);
	struct kvm_cpuid_entry2 *e;

	(void)state;
	e = get(c, 5, 0);
	assert_int_equal(e->eax | e->ebx | e->ecx | e->edx, 0);
	e = get(c, 0xa, 0);
	assert_int_equal(e->eax | e->ebx | e->ecx | e->edx, 0);
	e = get(c, 7, 0);
	assert_false(e->edx & (1u << 29)); /* ARCH_CAPABILITIES */
	assert_int_equal(e->edx, host_leaf(7, 0)->edx & ~(1u << 29));
	assert_int_equal(e->ebx, host_leaf(7, 0)->ebx);
	assert_int_equal(e->ecx, host_leaf(7, 0)->ecx);
	/* Subleaf 1's bit 29 means something else: untouched. */
	assert_int_equal(get(c, 7, 1)->edx, host_leaf(7, 1)->edx);
	e = get(c, 0x80000001, 0);
	assert_false(e->ecx & (1u << 2)); /* SVM */
	assert_int_equal(e->ecx, host_leaf(0x80000001, 0)->ecx & ~(1u << 2));
	assert_int_equal(e->edx, host_leaf(0x80000001, 0)->edx);
}

static void test_untouched(void **state)
{
	static const uint32_t keep[] = {0, 0xd, 0x80000000};
	struct kvm_cpuid2 *c = filtered(1, 2);

	(void)state;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		struct kvm_cpuid_entry2 *e = get(c, keep[i], 0);
		const struct leaf *h = host_leaf(keep[i], 0);

		assert_int_equal(e->eax, h->eax);
		assert_int_equal(e->ebx, h->ebx);
		assert_int_equal(e->ecx, h->ecx);
		assert_int_equal(e->edx, h->edx);
		assert_int_equal(e->flags, h->flags);
	}
}

/* One socket, one core per vCPU, no SMT, APIC id == vCPU index. */
static void check_topology(unsigned int id, unsigned int nr)
{
	struct kvm_cpuid2 *c = filtered(id, nr);
	uint32_t fns[] = {0xb, 0x1f};
	struct kvm_cpuid_entry2 *e;
	uint32_t cores;

	for (size_t f = 0; f < 2; f++) {
		e = get(c, fns[f], 0); /* SMT level */
		assert_int_equal(e->eax & 0x1f, 0);
		assert_int_equal(e->ebx & 0xffff, 1);
		assert_int_equal(e->ecx & 0xff, 0);
		assert_int_equal((e->ecx >> 8) & 0xff, 1);
		assert_int_equal(e->edx, id);
		e = get(c, fns[f], 1); /* core level: the whole package */
		assert_true((1ull << (e->eax & 0x1f)) >= nr);
		assert_int_equal(id >> (e->eax & 0x1f), 0);
		assert_int_equal(e->ebx & 0xffff, nr);
		assert_int_equal(e->ecx & 0xff, 1);
		assert_int_equal((e->ecx >> 8) & 0xff, 2);
		assert_int_equal(e->edx, id);
		e = get(c, fns[f], 2); /* end of the list */
		assert_int_equal((e->ecx >> 8) & 0xff, 0);
		assert_int_equal(e->ebx & 0xffff, 0);
		assert_int_equal(e->edx, id);
	}
	/* Leaf 4: cores per package - 1 in 6 bits (saturating at 63), each
	 * cache private to its vCPU, cache descriptions kept. */
	for (uint32_t i = 0; i < 4; i++) {
		e = get(c, 4, i);
		cores = (e->eax >> 26) + 1;
		if (cores != (nr < 64 ? nr : 64))
			fail_msg("leaf 4.%u says %u cores for %u vCPUs", i,
				 cores, nr);
		assert_int_equal((e->eax >> 14) & 0xfff, 0);
		assert_int_equal(e->eax & 0x3fff,
				 host_leaf(4, i)->eax & 0x3fff);
		assert_int_equal(e->ebx, host_leaf(4, i)->ebx);
	}
	e = get(c, 0x80000008, 0);
	assert_int_equal(e->ecx & 0xff, nr - 1);
	assert_int_equal(e->ecx & ~0xffu,
			 host_leaf(0x80000008, 0)->ecx & ~0xffu);
	assert_int_equal(e->eax, host_leaf(0x80000008, 0)->eax);
}

static void test_topology_small(void **state)
{
	(void)state;
	for (unsigned int nr = 1; nr <= 8; nr++)
		for (unsigned int id = 0; id < nr; id++)
			check_topology(id, nr);
	check_topology(63, 64);
}

/* Above 64 vCPUs leaf 4's 6-bit core count must saturate, not wrap. */
static void test_topology_large(void **state)
{
	(void)state;
	check_topology(0, 65);
	check_topology(200, 255);
}

static void test_invalid(void **state)
{
	struct kvm_cpuid2 *c = table();
	struct kvm_cpuid2 *orig = table_in(table_b);
	size_t size = sizeof(*c) + NR_HOST * sizeof(c->entries[0]);

	(void)state;
	assert_int_equal(cpuid_filter(c, 0, 0), -EINVAL);
	assert_int_equal(cpuid_filter(c, 4, 4), -EINVAL);
	assert_int_equal(cpuid_filter(c, 0, 256), -EINVAL);
	assert_memory_equal(c, orig, size);
	c->nent = CPUID_MAX_ENTRIES + 1;
	assert_int_equal(cpuid_filter(c, 0, 1), -EINVAL);
	c->nent = 0;
	assert_int_equal(cpuid_filter(c, 0, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_leaf1),
	    cmocka_unit_test(test_hidden_features),
	    cmocka_unit_test(test_untouched),
	    cmocka_unit_test(test_topology_small),
	    cmocka_unit_test(test_topology_large),
	    cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
