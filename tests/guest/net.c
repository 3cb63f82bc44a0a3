/*
 * mode=net ip=A.B.C.D: a polled virtio-net driver on the boot vCPU (the
 * others park) that answers ARP requests and ICMP echo requests for its
 * address, so a host-side ping through the tap measures reachability and,
 * across a migration, the downtime a user sees. Frames carry the 12-byte
 * virtio_net_hdr_v1 (all zeros: no offloads). Rings and buffers live in
 * guest memory.
 */
#include "probe.h"
#include "virtio.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_NET_F_MAC (1ULL << 5)
#define NET_Q 64
#define NET_BUF 2048
#define NET_HDR 12
#define NET_IDLE_NS (100 * 1000UL)
#define ETH_ARP 0x0806
#define ETH_IP 0x0800

struct net_state {
	struct vq_rings rx_rings, tx_rings;
	struct vdev dev;
	struct vq rxq, txq;
	uint8_t mac[6];
	uint64_t tx_free;
	uint64_t rx, tx, arp, icmp, dropped;
	uint8_t *rxbuf, *txbuf;
};

static struct net_state net_state;

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t csum(const uint8_t *p, uint64_t n)
{
	uint64_t s = 0, i;

	for (i = 0; i + 1 < n; i += 2)
		s += be16(p + i);
	if (n & 1)
		s += (uint64_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Reclaims sent buffers; returns a free tx slot or -1. */
static int net_tx_slot(struct net_state *s)
{
	struct vq_used_elem e;

	while (vq_get_used(&s->txq, &e))
		if (e.id < NET_Q)
			s->tx_free |= 1ULL << e.id;
	return s->tx_free ? __builtin_ctzll(s->tx_free) : -1;
}

/* Sends the frame built in tx slot @i. */
static void net_send(struct net_state *s, int i, uint64_t len)
{
	s->tx_rings.desc[i] = (struct vq_desc){
		(uint64_t)(s->txbuf + (uint64_t)i * NET_BUF),
		(uint32_t)(NET_HDR + len), 0, 0 };
	s->tx_free &= ~(1ULL << i);
	vq_add(&s->txq, (uint16_t)i);
	vq_kick(&s->dev, &s->txq);
	s->tx++;
}

static void net_eth(struct net_state *s, uint8_t *o, const uint8_t *in,
		    uint16_t type)
{
	memcpy(o, in + 6, 6);
	memcpy(o + 6, s->mac, 6);
	put16(o + 12, type);
}

static void net_arp(struct probe *p, struct net_state *s, const uint8_t *f,
		    uint64_t len)
{
	const uint8_t *a = f + 14;
	uint8_t *o;
	int i;

	if (len < 42 || be16(a + 6) != 1 || be32(a + 24) != p->opts.ip)
		return;
	if ((i = net_tx_slot(s)) < 0) {
		s->dropped++;
		return;
	}
	o = s->txbuf + (uint64_t)i * NET_BUF;
	memset(o, 0, NET_HDR);
	o += NET_HDR;
	net_eth(s, o, f, ETH_ARP);
	memcpy(o + 14, a, 6);	      /* htype, ptype, hlen, plen */
	put16(o + 20, 2);	      /* reply */
	memcpy(o + 22, s->mac, 6);    /* sha */
	put32(o + 28, p->opts.ip);    /* spa */
	memcpy(o + 32, a + 8, 10);    /* tha, tpa = requester */
	s->arp++;
	net_send(s, i, 42);
}

static void net_icmp(struct probe *p, struct net_state *s, const uint8_t *f,
		     uint64_t len)
{
	const uint8_t *ip = f + 14;
	uint64_t ihl = (uint64_t)(ip[0] & 0xf) * 4, tot;
	uint8_t *o;
	int i;

	if (len < 34 || (ip[0] >> 4) != 4 || ip[9] != 1 || ihl < 20 ||
	    be32(ip + 16) != p->opts.ip)
		return;
	tot = be16(ip + 2);
	if (tot < ihl + 8 || 14 + tot > len || ip[ihl] != 8)
		return;
	if (tot + 14 > NET_BUF - NET_HDR || (i = net_tx_slot(s)) < 0) {
		s->dropped++;
		return;
	}
	o = s->txbuf + (uint64_t)i * NET_BUF;
	memset(o, 0, NET_HDR);
	o += NET_HDR;
	net_eth(s, o, f, ETH_IP);
	memcpy(o + 14, ip, tot);
	put32(o + 14 + 12, p->opts.ip);	    /* src */
	memcpy(o + 14 + 16, ip + 12, 4);    /* dst = requester */
	o[14 + 8] = 64;			    /* ttl */
	put16(o + 14 + 10, 0);
	put16(o + 14 + 10, csum(o + 14, ihl));
	o[14 + ihl] = 0;		    /* echo reply */
	put16(o + 14 + ihl + 2, 0);
	put16(o + 14 + ihl + 2, csum(o + 14 + ihl, tot - ihl));
	s->icmp++;
	net_send(s, i, 14 + tot);
}

/* Handles received frames; returns how many. */
static unsigned int net_poll(struct probe *p, struct net_state *s)
{
	struct vq_used_elem e;
	unsigned int n = 0;

	while (vq_get_used(&s->rxq, &e)) {
		const uint8_t *f = s->rxbuf + (uint64_t)e.id * NET_BUF + NET_HDR;
		uint64_t len = e.len > NET_HDR ? e.len - NET_HDR : 0;

		if (e.id >= NET_Q)
			probe_die(p, EXIT_VERIFY, "probe: ERROR net used id=%u",
				  e.id);
		s->rx++;
		if (len >= 14 && be16(f + 12) == ETH_ARP)
			net_arp(p, s, f, len);
		else if (len >= 14 && be16(f + 12) == ETH_IP)
			net_icmp(p, s, f, len);
		vq_add(&s->rxq, (uint16_t)e.id);
		n++;
	}
	if (n)
		vq_kick(&s->dev, &s->rxq);
	return n;
}

static void net_setup(struct probe *p, struct net_state *s)
{
	unsigned int i;

	if (!p->opts.ip)
		probe_die(p, EXIT_CMDLINE, "probe: error mode=net needs "
			  "ip=A.B.C.D");
	if (vdev_find(p, VIRTIO_ID_NET, 0, &s->dev) < 0 ||
	    vdev_negotiate(&s->dev, VIRTIO_NET_F_MAC) < 0 ||
	    !(s->dev.features & VIRTIO_NET_F_MAC) ||
	    vdev_queue(&s->dev, &s->rxq, 0, &s->rx_rings, NET_Q) < 0 ||
	    vdev_queue(&s->dev, &s->txq, 1, &s->tx_rings, NET_Q) < 0)
		probe_die(p, EXIT_INTERNAL, "probe: error no usable virtio-net "
			  "device with a MAC");
	for (i = 0; i < 6; i++)
		s->mac[i] = vdev_config8(&s->dev, i);
	s->rxbuf = (uint8_t *)WSS_BASE;
	s->txbuf = s->rxbuf + NET_Q * NET_BUF;
	s->tx_free = ~0ULL;
	for (i = 0; i < NET_Q; i++) {
		s->rx_rings.desc[i] = (struct vq_desc){
			(uint64_t)(s->rxbuf + (uint64_t)i * NET_BUF), NET_BUF,
			VQ_DESC_F_WRITE, 0 };
		vq_add(&s->rxq, (uint16_t)i);
	}
	vdev_driver_ok(&s->dev);
	vq_kick(&s->dev, &s->rxq);
	con_printf(p, "probe: net mac=%x:%x:%x:%x:%x:%x ip=%u.%u.%u.%u",
		   s->mac[0], s->mac[1], s->mac[2], s->mac[3], s->mac[4],
		   s->mac[5], p->opts.ip >> 24, (p->opts.ip >> 16) & 0xff,
		   (p->opts.ip >> 8) & 0xff, p->opts.ip & 0xff);
}

static void net_heartbeat(struct probe *p, struct net_state *s, uint64_t now)
{
	if ((int64_t)(now - p->next_hb_ns) < 0)
		return;
	p->idle_periods++;
	con_printf(p, "probe: hb pass=%lu rx=%lu tx=%lu arp=%lu icmp=%lu "
		   "dropped=%lu", p->idle_periods, s->rx, s->tx, s->arp,
		   s->icmp, s->dropped);
	p->next_hb_ns = now + p->opts.hb_ms * NS_PER_MS;
	if (p->opts.passes && p->idle_periods >= p->opts.passes) {
		con_printf(p, "probe: done mode=net passes=%lu rx=%lu tx=%lu "
			   "errors=0", p->idle_periods, s->rx, s->tx);
		svc_exit(EXIT_OK);
	}
}

void net_run(struct probe *p, struct probe_cpu *c)
{
	struct net_state *s = &net_state;

	if (c->index_cpu != p->bsp_index)
		for (;;)
			svc_idle_ns(NS_PER_S);
	net_setup(p, s);
	for (;;) {
		net_heartbeat(p, s, clock_ns(c));
		if (!net_poll(p, s))
			svc_idle_ns(NET_IDLE_NS);
	}
}
