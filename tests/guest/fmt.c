/*
 * Freestanding string formatting for the console (no libc here): the
 * printf subset the probe's lines use, plus the memset/memcpy that gcc may
 * emit calls to. Pure functions; safe at CPL0 and CPL3.
 */
#include "probe.h"

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void put(struct out *o, char ch)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = ch;
	o->len++;
}

static void put_u64(struct out *o, uint64_t v, unsigned int base)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		put(o, tmp[--n]);
}

/* Reads the next integer argument for a conversion with @lng 'l's. */
static uint64_t arg_u(va_list *ap, int lng, int is_signed, int *neg)
{
	int64_t s;

	*neg = 0;
	if (!is_signed)
		return lng ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned);
	s = lng ? va_arg(*ap, long) : va_arg(*ap, int);
	if (s < 0) {
		*neg = 1;
		return -(uint64_t)s;
	}
	return (uint64_t)s;
}

static void conv(struct out *o, char c, int lng, va_list *ap)
{
	const char *s;
	uint64_t v;
	int neg;

	switch (c) {
	case 's':
		for (s = va_arg(*ap, const char *); s && *s; s++)
			put(o, *s);
		break;
	case 'c':
		put(o, (char)va_arg(*ap, int));
		break;
	case 'd':
	case 'u':
	case 'x':
		v = arg_u(ap, lng, c == 'd', &neg);
		if (neg)
			put(o, '-');
		put_u64(o, v, c == 'x' ? 16 : 10);
		break;
	default:
		put(o, '%');
		put(o, c);
	}
}

size_t fmt_vsn(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	va_list aq;
	int lng;

	va_copy(aq, ap);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		for (lng = 0; fmt[1] == 'l'; fmt++)
			lng = 1;
		if (!*++fmt)
			break;
		if (*fmt == '%')
			put(&o, '%');
		else
			conv(&o, *fmt, lng, &aq);
	}
	va_end(aq);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len < size ? o.len : (size ? size - 1 : 0);
}

size_t fmt_sn(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = fmt_vsn(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}
