/*
 * VM state components: save -> load -> save gives identical bytes for a
 * vCPU (hv/vcpu_state.c's pure pack/unpack) and the UART (hv/serial.c);
 * malformed records are refused with one logged line. The KVM side of each
 * round trip is covered by tests/integration/test_snapshot.sh.
 */
#include <errno.h>

#include "tests/unit/unit.h"

#include "hv/serial.h"
#include "hv/vcpu_state.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static void fill_random(void *p, size_t len)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		b[i] = (uint8_t)rng;
	}
}

/* A vCPU state with every field set to something non-trivial. */
static struct vcpu_kvm_state *random_vcpu(unsigned int nmsrs)
{
	struct vcpu_kvm_state *k = calloc(1, sizeof(*k));
	struct kvm_segment *segs[8];

	assert_non_null(k);
	fill_random(k, sizeof(*k));
	k->id = 3;
	k->xcrs.nr_xcrs = 1;
	k->msrs.hdr.nmsrs = nmsrs;
	for (unsigned int i = 0; i < nmsrs; i++)
		k->msrs.e[i].reserved = 0; /* not state */
	segs[0] = &k->sregs.cs; segs[1] = &k->sregs.ds; segs[2] = &k->sregs.es;
	segs[3] = &k->sregs.fs; segs[4] = &k->sregs.gs; segs[5] = &k->sregs.ss;
	segs[6] = &k->sregs.tr; segs[7] = &k->sregs.ldt;
	for (int i = 0; i < 8; i++) {
		struct kvm_segment *g = segs[i];

		g->padding = 0; /* not state: never saved */
		g->present &= 1; g->dpl &= 3; g->db &= 1; g->s &= 1;
		g->l &= 1; g->g &= 1; g->avl &= 1; g->unusable &= 1;
	}
	return k;
}

static void test_vcpu_roundtrip(void **state)
{
	struct vcpu_kvm_state *k = random_vcpu(57), *k2 = calloc(1, sizeof(*k2));
	uint8_t *a, *b;
	size_t alen, blen;

	(void)state;
	assert_int_equal(vcpu_state_pack(k, &a, &alen), 0);
	assert_int_equal(vcpu_state_unpack(a, alen, k2), 0);
	assert_int_equal(vcpu_state_pack(k2, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	/* And the structures themselves came back. */
	assert_memory_equal(&k->regs, &k2->regs, sizeof(k->regs));
	assert_memory_equal(&k->xsave, &k2->xsave, sizeof(k->xsave));
	assert_memory_equal(&k->lapic, &k2->lapic, sizeof(k->lapic));
	assert_memory_equal(&k->events, &k2->events, sizeof(k->events));
	assert_memory_equal(&k->debugregs, &k2->debugregs, sizeof(k->debugregs));
	assert_int_equal(k2->msrs.hdr.nmsrs, 57);
	assert_memory_equal(k->msrs.e, k2->msrs.e, 57 * sizeof(k->msrs.e[0]));
	assert_int_equal(k->sregs.cr3, k2->sregs.cr3);
	assert_int_equal(k->sregs.cs.base, k2->sregs.cs.base);
	assert_int_equal(k->sregs.tr.unusable, k2->sregs.tr.unusable);
	assert_int_equal(k->mp.mp_state, k2->mp.mp_state);
	assert_int_equal(k2->id, 3);
	free(a);
	free(b);
	free(k);
	free(k2);
}

static void test_vcpu_malformed(void **state)
{
	struct vcpu_kvm_state *k = random_vcpu(4), *k2 = calloc(1, sizeof(*k2));
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0x0f, 0x12 };
	uint8_t *a;
	size_t alen;

	(void)state;
	log_reset();
	assert_int_equal(vcpu_state_unpack(garbage, sizeof(garbage), k2),
			 -EBADMSG);
	assert_int_equal(unit_log_errors, 1);
	/* Every truncation of a valid record is refused or unpacks to a state
	 * that is refused for missing or short parts: never accepted whole. */
	assert_int_equal(vcpu_state_pack(k, &a, &alen), 0);
	for (size_t cut = 0; cut < alen; cut += 97) {
		log_reset();
		assert_int_equal(vcpu_state_unpack(a, cut, k2), -EBADMSG);
		assert_int_equal(unit_log_errors, 1);
	}
	free(a);
	free(k);
	free(k2);
}

static void test_serial_roundtrip(void **state)
{
	struct serial *s1, *s2;
	uint8_t *a, *b, v;
	size_t alen, blen;

	(void)state;
	assert_int_equal(serial_create(-1, NULL, NULL, &s1), 0);
	assert_int_equal(serial_create(-1, NULL, NULL, &s2), 0);
	v = 0x83; serial_io(s1, 3, &v, 1, true);  /* LCR: DLAB */
	v = 0x01; serial_io(s1, 0, &v, 1, true);  /* DLL */
	v = 0x03; serial_io(s1, 3, &v, 1, true);  /* LCR: 8N1 */
	v = 0x03; serial_io(s1, 1, &v, 1, true);  /* IER */
	v = 0x5a; serial_io(s1, 7, &v, 1, true);  /* SCR */
	assert_int_equal(serial_input(s1, (const uint8_t *)"hello", 5), 5);
	serial_io(s1, 0, &v, 1, false);		  /* consume 'h' */
	assert_int_equal(serial_save(s1, &a, &alen), 0);
	assert_int_equal(serial_restore(s2, a, alen), 0);
	assert_int_equal(serial_save(s2, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	serial_io(s2, 0, &v, 1, false);
	assert_int_equal(v, 'e'); /* the FIFO came back in order */
	serial_io(s2, 7, &v, 1, false);
	assert_int_equal(v, 0x5a);
	free(a);
	free(b);
	serial_destroy(s1);
	serial_destroy(s2);
}

static void test_serial_malformed(void **state)
{
	/* SerialState with a 17-byte rx FIFO: field 9, length 17. */
	uint8_t bad[2 + 17] = { 0x4a, 17 };
	struct serial *s;

	(void)state;
	assert_int_equal(serial_create(-1, NULL, NULL, &s), 0);
	log_reset();
	assert_int_equal(serial_restore(s, bad, sizeof(bad)), -EBADMSG);
	assert_int_equal(unit_log_errors, 1);
	assert_int_equal(serial_restore(s, (const uint8_t *)"\xff", 1),
			 -EBADMSG);
	serial_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vcpu_roundtrip),
		cmocka_unit_test(test_vcpu_malformed),
		cmocka_unit_test(test_serial_roundtrip),
		cmocka_unit_test(test_serial_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
