/*
 * The probe's virtio-blk driver state (blk.c), shared with the
 * malformed-chain cases (blk_bad.c). Request slot i uses descriptors 3i,
 * 3i+1, 3i+2: header, data, status.
 */
#ifndef PROBE_BLK_H
#define PROBE_BLK_H

#include "probe.h"
#include "virtio.h"

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ULL << 6)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_QSIZE 256

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_slot {
	uint32_t busy;
	uint32_t type;
	uint64_t block;
	uint64_t gen;
};

/* Everything lives in guest memory, so a snapshot carries it. */
struct blk_state {
	struct vq_rings rings;
	struct vdev dev;
	struct vq q;
	struct blk_hdr hdr[BLK_MAX_QD];
	uint8_t status[BLK_MAX_QD];
	struct blk_slot slot[BLK_MAX_QD];
	uint64_t free_mask;
	uint64_t inflight;
	uint64_t bs, blocks;
	uint64_t pass, passes_done, phase, cursor;
	uint64_t ios, verified, last_hb_ios;
	uint64_t rng;
	uint64_t last_progress_ns;
	uint32_t *ledger; /* generation of each block's last completed write */
	uint8_t *bufs;
};

/* blk_bad.c */
int blk_dev_init(struct probe *p, struct blk_state *s);
__attribute__((noreturn)) void blk_bad(struct probe *p, struct blk_state *s);
/* blk.c */
void blk_submit(struct blk_state *s, unsigned int i, uint32_t type,
		uint64_t block);

#endif
