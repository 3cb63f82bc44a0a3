/*
 * 8250/16550 UART (COM1 at 0x3f8, IRQ 4): transmit to an fd, receive from
 * the host side through serial_input(). Owns no fds. Thread-safe: vCPU
 * threads access registers, the main loop feeds input.
 */
#ifndef HV_SERIAL_H
#define HV_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4
#define SERIAL_NR_REGS 8

struct serial;

/* Raises (level 1) or lowers the UART's interrupt line. */
typedef void (*serial_irq_fn)(void *opaque, int level);

/* @out_fd < 0 discards output. Returns 0 or -ENOMEM. */
int serial_create(int out_fd, serial_irq_fn irq, void *irq_opaque,
		  struct serial **out);
void serial_destroy(struct serial *s);

/* bus_io_fn for the 8 UART registers. */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int size,
	       bool is_write);

/* Queues received bytes; returns how many fitted in the FIFO. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);

/* Device state as a packed ferry.vmstate.SerialState in a malloc'd buffer
 * (caller frees). Returns 0 or -ENOMEM. */
int serial_save(struct serial *s, uint8_t **buf, size_t *len);
/* Returns 0 or -EBADMSG for a body that does not unpack or is out of
 * range. */
int serial_restore(struct serial *s, const uint8_t *buf, size_t len);

#endif
