/*
 * virtio-net device on a TAP. The tap carries a 12-byte virtio_net_hdr_v1
 * before each frame (IFF_VNET_HDR), so guest buffers go to readv/writev
 * unchanged; offloads stay off, so the header is all zeros but for
 * num_buffers, which the tap does not write and the device sets to 1. The
 * I/O thread does all queue work under the transport lock; the pause hook
 * takes that lock, so no frame lands in guest memory while paused.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "hv/log.h"
#include "hv/virtio_net.h"
#include "proto/virtio.pb-c.h"

#define VNET_QUEUE_MAX 256
#define VNET_HDR_LEN 12
#define VNET_RXQ 0
#define VNET_TXQ 1
#define VNET_BURST 64

#define VIRTIO_NET_F_MAC (1ULL << 5)
#define VIRTIO_NET_F_STATUS (1ULL << 16)
#define VIRTIO_NET_S_LINK_UP 1

struct virtio_net {
	struct virtio_mmio m;
	int tap_fd;
	char ifname[VIRTIO_IFNAMSIZ];
	uint8_t config[8]; /* mac[6], status */
	bool paused;
	bool rx_wait; /* no receive buffers: stop polling the tap */
	pthread_t thread;
	bool thread_ok;
	int stop_efd;
	struct vq_chain chain;
	struct iovec iov[VQ_MAX_SEGS];
	uint64_t rx_frames, tx_frames, rx_dropped;
};

int virtio_net_opts_parse(const char *s, struct virtio_net_opts *o)
{
	const char *comma = strchr(s, ',');
	size_t n = comma ? (size_t)(comma - s) : strlen(s);
	unsigned int b[6];
	char tail;

	memset(o, 0, sizeof(*o));
	if (strncmp(s, "tap=", 4) || n <= 4 || n - 4 >= IFNAMSIZ) {
		log_err("--net %s: expected tap=IFNAME (at most %d characters)"
			"[,mac=XX:XX:XX:XX:XX:XX]", s, IFNAMSIZ - 1);
		return -EINVAL;
	}
	memcpy(o->ifname, s + 4, n - 4);
	if (!comma)
		return 0;
	if (sscanf(comma, ",mac=%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2],
		   &b[3], &b[4], &b[5], &tail) != 6 ||
	    strlen(comma) != 22) {
		log_err("--net %s: expected mac=XX:XX:XX:XX:XX:XX", s);
		return -EINVAL;
	}
	for (int i = 0; i < 6; i++)
		o->mac[i] = (uint8_t)b[i];
	if (o->mac[0] & 1) {
		log_err("--net %s: a multicast MAC cannot be a NIC's", s);
		return -EINVAL;
	}
	o->has_mac = true;
	return 0;
}

static void vnet_config(void *dev, uint64_t off, uint8_t *data,
			unsigned int size, bool is_write)
{
	struct virtio_net *n = dev;

	if (is_write)
		return;
	memset(data, 0, size);
	if (off < sizeof(n->config) && size <= sizeof(n->config) - off)
		memcpy(data, n->config + off, size);
}

/* Sends every frame the guest queued. Returns -EINVAL for a bad ring. */
static int vnet_tx(struct virtio_net *n)
{
	struct vq *q = &n->m.vq[VNET_TXQ];
	struct vq_chain *c = &n->chain;
	int ret;

	while (q->ready && (ret = vq_pop(q, c, n->m.name)) > 0) {
		unsigned int k = 0;

		for (unsigned int i = 0; i < c->n_out; i++)
			n->iov[k++] = (struct iovec){ c->seg[i].host,
						      c->seg[i].len };
		/* A frame the tap refuses (down, full) is lost, as on a
		 * wire; the guest gets its buffer back either way. */
		if (writev(n->tap_fd, n->iov, (int)k) >= 0)
			n->tx_frames++;
		vq_push(q, c->head, 0);
		virtio_mmio_used(&n->m, q);
	}
	return q->ready ? ret : 0;
}

/* Receives one frame into the next buffer. Returns 1 when one arrived, 0
 * when the tap or the queue is empty, -EINVAL for a bad ring. */
static int vnet_rx_one(struct virtio_net *n, struct vq *q)
{
	struct vq_chain *c = &n->chain;
	uint16_t one = 1;
	unsigned int k = 0;
	ssize_t got;
	int ret = vq_pop(q, c, n->m.name);

	if (ret <= 0) {
		n->rx_wait = ret == 0;
		return ret;
	}
	if (c->n_out || c->in_bytes < VNET_HDR_LEN) {
		log_err("%s: receive buffer at head %u is not a writable "
			"buffer of at least %d bytes", n->m.name, c->head,
			VNET_HDR_LEN);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < c->n; i++)
		n->iov[k++] = (struct iovec){ c->seg[i].host, c->seg[i].len };
	got = readv(n->tap_fd, n->iov, (int)k);
	if (got < VNET_HDR_LEN) {
		vq_unpop(q);
		return 0;
	}
	vq_chain_mark(q, c, (uint64_t)got);
	vq_chain_write(q, c, 10, &one, sizeof(one)); /* num_buffers */
	vq_push(q, c->head, (uint32_t)got);
	virtio_mmio_used(&n->m, q);
	n->rx_frames++;
	return 1;
}

static int vnet_rx(struct virtio_net *n)
{
	struct vq *q = &n->m.vq[VNET_RXQ];
	int ret = 1;

	n->rx_wait = false;
	for (int i = 0; q->ready && ret > 0 && i < VNET_BURST; i++)
		ret = vnet_rx_one(n, q);
	return ret < 0 ? ret : 0;
}

static void vnet_work(struct virtio_net *n)
{
	if (!virtio_mmio_running(&n->m) || n->paused)
		return;
	if (vnet_tx(n) < 0 || vnet_rx(n) < 0)
		virtio_mmio_set_broken(&n->m);
}

static void *vnet_thread(void *arg)
{
	struct virtio_net *n = arg;
	struct pollfd p[3] = {
		{ .fd = n->m.notify_efd, .events = POLLIN },
		{ .fd = n->stop_efd, .events = POLLIN },
		{ .fd = n->tap_fd, .events = POLLIN },
	};
	uint64_t cnt;

	for (;;) {
		/* Without receive buffers the tap stays unread until the
		 * guest posts some (and notifies). */
		if (poll(p, n->rx_wait ? 2 : 3, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if ((p[0].revents & POLLIN) &&
		    read(n->m.notify_efd, &cnt, sizeof(cnt)) < 0)
			cnt = 0;
		pthread_mutex_lock(&n->m.lock);
		vnet_work(n);
		pthread_mutex_unlock(&n->m.lock);
	}
	return NULL;
}

static int vnet_open_tap(struct virtio_net *n, const char *ifname)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr = VNET_HDR_LEN;

	n->tap_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->tap_fd < 0) {
		log_err("cannot open /dev/net/tun for tap %s: %m", ifname);
		return -errno;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(n->tap_fd, TUNSETIFF, &ifr) < 0) {
		log_err("cannot create or attach tap %s: %m", ifname);
		return -errno;
	}
	if (ioctl(n->tap_fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(n->tap_fd, TUNSETOFFLOAD, 0) < 0) {
		log_err("tap %s: cannot set the virtio header or offloads: %m",
			ifname);
		return -errno;
	}
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifname);
	return 0;
}

static void vnet_reset(void *dev)
{
	struct virtio_net *n = dev;

	n->rx_wait = false;
}

static const struct virtio_mmio_ops vnet_ops = {
	.config = vnet_config,
	.reset = vnet_reset,
};

void virtio_net_pause(void *opaque)
{
	struct virtio_net *n = opaque;

	virtio_mmio_lock(&n->m);
	n->paused = true;
	virtio_mmio_unlock(&n->m);
}

void virtio_net_resume(void *opaque)
{
	struct virtio_net *n = opaque;

	virtio_mmio_lock(&n->m);
	n->paused = false;
	virtio_mmio_kick(&n->m);
	virtio_mmio_unlock(&n->m);
}

int virtio_net_save(void *opaque, uint8_t **buf, size_t *len)
{
	struct virtio_net *n = opaque;
	Ferry__Virtio__NetState st = FERRY__VIRTIO__NET_STATE__INIT;
	Ferry__Virtio__Transport t;
	Ferry__Virtio__Queue q[2], *qp[2];

	virtio_mmio_lock(&n->m);
	virtio_mmio_save(&n->m, &t, q, qp);
	st.transport = &t;
	st.mac = (ProtobufCBinaryData){ 6, n->config };
	*len = ferry__virtio__net_state__get_packed_size(&st);
	*buf = malloc(*len ? *len : 1);
	if (*buf)
		ferry__virtio__net_state__pack(&st, *buf);
	virtio_mmio_unlock(&n->m);
	return *buf ? 0 : -ENOMEM;
}

int virtio_net_restore(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_net *n = opaque;
	Ferry__Virtio__NetState *st;
	int ret = -EINVAL;

	st = ferry__virtio__net_state__unpack(NULL, len, buf);
	if (!st || !st->transport || st->mac.len != 6) {
		ret = -EBADMSG; /* vm_state.c names the record */
	} else {
		virtio_mmio_lock(&n->m);
		/* The guest knows its MAC: it moves with the VM. */
		memcpy(n->config, st->mac.data, 6);
		ret = virtio_mmio_restore(&n->m, st->transport);
		if (!ret)
			virtio_mmio_kick(&n->m);
		virtio_mmio_unlock(&n->m);
	}
	if (st)
		ferry__virtio__net_state__free_unpacked(st, NULL);
	return ret;
}

static int vnet_init(struct virtio_net *n, const struct virtio_net_opts *o,
		     unsigned int index, const struct virtio_dev_env *env)
{
	static const uint8_t base_mac[6] = { 0x52, 0x54, 0x00, 0, 0, 0 };
	struct virtio_mmio_cfg c = {
		.name = env->name, .device_id = VIRTIO_ID_NET,
		.features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS,
		.nr_queues = 2, .queue_max = VNET_QUEUE_MAX, .ops = &vnet_ops,
		.dev = n, .irq = env->irq, .irq_opaque = env->irq_opaque };
	int ret = virtio_mmio_init(&n->m, &c, env->mem, env->mark,
				   env->mark_ctx);

	if (ret)
		return ret;
	ret = vnet_open_tap(n, o->ifname);
	if (ret)
		return ret;
	memcpy(n->config, o->has_mac ? o->mac : base_mac, 6);
	if (!o->has_mac)
		n->config[5] = (uint8_t)(index + 1);
	n->config[6] = VIRTIO_NET_S_LINK_UP;
	n->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->stop_efd < 0)
		return -errno;
	ret = -pthread_create(&n->thread, NULL, vnet_thread, n);
	n->thread_ok = !ret;
	return ret;
}

int virtio_net_create(const struct virtio_net_opts *o, unsigned int index,
		      const struct virtio_dev_env *env,
		      struct virtio_net **out)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	int ret;

	if (!n)
		return -ENOMEM;
	n->tap_fd = n->stop_efd = -1;
	ret = vnet_init(n, o, index, env);
	if (ret) {
		virtio_net_destroy(n);
		return ret;
	}
	*out = n;
	return 0;
}

void virtio_net_destroy(struct virtio_net *n)
{
	uint64_t one = 1;

	if (!n)
		return;
	if (n->thread_ok) {
		if (write(n->stop_efd, &one, sizeof(one)) < 0)
			log_warn("%s: cannot stop the I/O thread: %m",
				 n->m.name);
		pthread_join(n->thread, NULL);
	}
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	if (n->stop_efd >= 0)
		close(n->stop_efd);
	virtio_mmio_fini(&n->m);
	free(n);
}

struct virtio_mmio *virtio_net_mmio(struct virtio_net *n)
{
	return &n->m;
}
