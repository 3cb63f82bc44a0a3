/*
 * A 16550A as far as guests use one: divisor latch, IER/IIR/FCR/LCR/MCR/
 * LSR/MSR/SCR, a 16-byte receive FIFO and an always-empty transmitter
 * (bytes go straight to the output fd, so THRE is always set).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/log.h"
#include "hv/serial.h"
#include "proto/vmstate.pb-c.h"

enum { UART_RBR_THR, UART_IER, UART_IIR_FCR, UART_LCR, UART_MCR, UART_LSR,
       UART_MSR, UART_SCR };

#define UART_LCR_DLAB 0x80
#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO 0xc0
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MCR_LOOP 0x10
#define UART_MSR_IDLE 0xb0 /* DCD, DSR, CTS */
#define UART_FIFO_LEN 16

struct serial {
	pthread_mutex_t lock;
	int out_fd;
	serial_irq_fn irq;
	void *irq_opaque;
	uint8_t dll, dlm, ier, fcr, lcr, mcr, scr;
	bool thr_ipending; /* THRE interrupt latched until IIR read */
	uint8_t rx[UART_FIFO_LEN];
	unsigned int rx_head, rx_count;
	uint64_t tx_lost;
};

int serial_create(int out_fd, serial_irq_fn irq, void *irq_opaque,
		  struct serial **out)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->irq = irq;
	s->irq_opaque = irq_opaque;
	s->dll = 12; /* 9600 baud, as after reset */
	*out = s;
	return 0;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & 1) ? UART_IIR_FIFO : 0;

	if ((s->ier & UART_IER_RDI) && s->rx_count)
		return UART_IIR_RDI | fifo;
	if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		return UART_IIR_THRI | fifo;
	return UART_IIR_NO_INT | fifo;
}

static void serial_update_irq(struct serial *s)
{
	if (s->irq)
		s->irq(s->irq_opaque, !(serial_iir(s) & UART_IIR_NO_INT));
}

static void serial_rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_count < UART_FIFO_LEN)
		s->rx[(s->rx_head + s->rx_count++) % UART_FIFO_LEN] = c;
}

/* A vCPU kick (a signal) may interrupt the write: retry those. A stuck
 * console loses bytes, never the VM. */
static void serial_write_out(struct serial *s, uint8_t c)
{
	ssize_t n;

	do
		n = write(s->out_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		s->tx_lost++;
}

static void serial_transmit(struct serial *s, uint8_t c)
{
	if (s->mcr & UART_MCR_LOOP)
		serial_rx_push(s, c);
	else if (s->out_fd >= 0)
		serial_write_out(s, c);
	s->thr_ipending = true;
}

static void serial_write_reg(struct serial *s, unsigned int reg, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		if (dlab)
			s->dll = v;
		else
			serial_transmit(s, v);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = v;
		else
			s->ier = v & 0x0f;
		if (s->ier & UART_IER_THRI)
			s->thr_ipending = true;
		break;
	case UART_IIR_FCR:
		s->fcr = v;
		if (v & 0x02)
			s->rx_count = 0;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	}
}

static uint8_t serial_read_reg(struct serial *s, unsigned int reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t v = 0;

	switch (reg) {
	case UART_RBR_THR:
		if (dlab)
			return s->dll;
		if (s->rx_count) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % UART_FIFO_LEN;
			s->rx_count--;
		}
		return v;
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR_FCR:
		v = serial_iir(s);
		if ((v & 0x0f) == UART_IIR_THRI)
			s->thr_ipending = false;
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return UART_LSR_THRE | UART_LSR_TEMT |
		       (s->rx_count ? UART_LSR_DR : 0);
	case UART_MSR:
		return UART_MSR_IDLE;
	default:
		return s->scr;
	}
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int size,
	       bool is_write)
{
	struct serial *s = opaque;

	if (size != 1 || offset >= SERIAL_NR_REGS)
		return;
	pthread_mutex_lock(&s->lock);
	if (is_write)
		serial_write_reg(s, (unsigned int)offset, *data);
	else
		*data = serial_read_reg(s, (unsigned int)offset);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_count < UART_FIFO_LEN)
		serial_rx_push(s, buf[n++]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

int serial_save(struct serial *s, uint8_t **buf, size_t *len)
{
	Ferry__Vmstate__SerialState st = FERRY__VMSTATE__SERIAL_STATE__INIT;
	uint8_t rx[UART_FIFO_LEN];

	pthread_mutex_lock(&s->lock);
	st.dll = s->dll; st.dlm = s->dlm; st.ier = s->ier; st.fcr = s->fcr;
	st.lcr = s->lcr; st.mcr = s->mcr; st.scr = s->scr;
	st.thr_ipending = s->thr_ipending;
	for (unsigned int i = 0; i < s->rx_count; i++)
		rx[i] = s->rx[(s->rx_head + i) % UART_FIFO_LEN];
	st.rx = (ProtobufCBinaryData){ s->rx_count, rx };
	*len = ferry__vmstate__serial_state__get_packed_size(&st);
	*buf = malloc(*len ? *len : 1);
	if (*buf)
		ferry__vmstate__serial_state__pack(&st, *buf);
	pthread_mutex_unlock(&s->lock);
	return *buf ? 0 : -ENOMEM;
}

int serial_restore(struct serial *s, const uint8_t *buf, size_t len)
{
	Ferry__Vmstate__SerialState *st;

	st = ferry__vmstate__serial_state__unpack(NULL, len, buf);
	if (!st || st->rx.len > UART_FIFO_LEN) {
		log_err("serial state record is malformed");
		if (st)
			ferry__vmstate__serial_state__free_unpacked(st, NULL);
		return -EBADMSG;
	}
	pthread_mutex_lock(&s->lock);
	s->dll = (uint8_t)st->dll; s->dlm = (uint8_t)st->dlm;
	s->ier = (uint8_t)st->ier; s->fcr = (uint8_t)st->fcr;
	s->lcr = (uint8_t)st->lcr; s->mcr = (uint8_t)st->mcr;
	s->scr = (uint8_t)st->scr;
	s->thr_ipending = st->thr_ipending;
	s->rx_head = 0;
	s->rx_count = (unsigned int)st->rx.len;
	if (st->rx.len) /* an empty FIFO unpacks with a NULL buffer */
		memcpy(s->rx, st->rx.data, st->rx.len);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	ferry__vmstate__serial_state__free_unpacked(st, NULL);
	return 0;
}
