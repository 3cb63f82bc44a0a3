/*
 * TCP transport of the migration streams: "tcp:HOST:PORT" parsing, listen,
 * accept and connect with timeouts, and the socket tuning that makes a
 * dead peer show up in seconds (migrate/transport.h). Owns no state and
 * never touches the stream format; the engine (source.c, sink.c) does.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hv/log.h"
#include "migrate/transport.h"

#define TCP_PREFIX "tcp:"
#define LISTEN_BACKLOG 16
/* "[host]:65535" and a NUL. */
#define ADDR_STR_MAX (sizeof(((struct mig_uri *)0)->host) + 8)

/* ---- parsing ----------------------------------------------------------- */

static int uri_bad(const char *uri)
{
	log_err("bad migration address '%.300s': expected tcp:HOST:PORT",
		uri ? uri : "(null)");
	return -EINVAL;
}

/* Letters, digits, '-', '.', '_' make names and IPv4 addresses; an IPv6
 * address in brackets adds ':' and a zone ("%eth0"). Anything else
 * (spaces, '/', '@', control characters) is a typo, rejected here rather
 * than by a resolver timeout later. */
static int host_char_ok(char c, int bracketed)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')
		return 1;
	return bracketed && (c == ':' || c == '%');
}

/* Decimal digits only (no sign, no spaces), at most 65535. */
static int parse_port(const char *s, int allow_zero, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > UINT16_MAX)
			return -EINVAL;
	}
	if (!v && !allow_zero)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int uri_parse(const char *uri, struct mig_uri *out, int allow_zero)
{
	const char *host, *end, *p;
	int bracketed;
	uint16_t port;
	size_t len;

	if (!uri || strncmp(uri, TCP_PREFIX, strlen(TCP_PREFIX)))
		return uri_bad(uri);
	host = uri + strlen(TCP_PREFIX);
	bracketed = *host == '[';
	if (bracketed) {
		host++;
		end = strchr(host, ']');
		if (!end || end[1] != ':')
			return uri_bad(uri);
	} else {
		end = strrchr(host, ':');
		if (!end)
			return uri_bad(uri);
	}
	len = (size_t)(end - host);
	if (!len || len >= sizeof(out->host))
		return uri_bad(uri);
	for (p = host; p < end; p++)
		if (!host_char_ok(*p, bracketed))
			return uri_bad(uri);
	if (parse_port(end + 1 + bracketed, allow_zero, &port))
		return uri_bad(uri);
	memcpy(out->host, host, len);
	out->host[len] = '\0';
	out->port = port;
	return 0;
}

int mig_uri_parse(const char *uri, struct mig_uri *out)
{
	return uri_parse(uri, out, 0);
}

int mig_uri_parse_listen(const char *uri, struct mig_uri *out)
{
	return uri_parse(uri, out, 1);
}

/* ---- helpers ----------------------------------------------------------- */

/* "host:port", or "[host]:port" for IPv6, for messages. */
static const char *addr_str(const struct mig_uri *u, char *buf, size_t n)
{
	int v6 = strchr(u->host, ':') != NULL;

	snprintf(buf, n, "%s%s%s:%u", v6 ? "[" : "", u->host, v6 ? "]" : "",
		 u->port);
	return buf;
}

/* Resolves @u (numeric port). Returns 0 or -errno, logged. */
static int resolve(const struct mig_uri *u, int passive, struct addrinfo **res)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
	};
	char port[8], a[ADDR_STR_MAX];
	int rc, err;

	snprintf(port, sizeof(port), "%u", u->port);
	rc = getaddrinfo(u->host, port, &hints, res);
	if (!rc)
		return 0;
	switch (rc) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
	case EAI_FAMILY:
		err = -EADDRNOTAVAIL;
		break;
	case EAI_AGAIN:
		err = -EAGAIN;
		break;
	case EAI_MEMORY:
		err = -ENOMEM;
		break;
	case EAI_SYSTEM:
		err = errno ? -errno : -EIO;
		break;
	default:
		err = -EINVAL;
	}
	log_err("cannot resolve migration address %s: %s",
		addr_str(u, a, sizeof(a)), gai_strerror(rc));
	return err;
}

static int set_opt(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val)) ? -errno : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before @deadline for poll(): -1 if there is none (a
 * negative deadline), 0 once it passed. */
static int ms_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Polls @fd for @events until @deadline, retrying after signals. Returns
 * 0 when ready, -ETIMEDOUT, or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int n;

	do {
		n = poll(&pfd, 1, ms_left(deadline));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

/* ---- tuning ------------------------------------------------------------ */

/*
 * 4 MiB buffers: a pre-copy round writes page batches of up to a few MiB
 * at once; with buffers this size the writer hands a whole batch to the
 * kernel and goes on scanning the bitmap while the link drains it, and the
 * receiver's window covers the bandwidth-delay product of 10-40 Gb/s at
 * the sub-millisecond RTTs of a data-centre link. Set before connect() and
 * listen(), since the window scale is fixed by the SYN. Only forced sizes
 * are used: a plain SO_SNDBUF/SO_RCVBUF is capped at net.core.wmem_max /
 * rmem_max (often 208 KiB) and turns off the kernel's autotuning, which
 * grows to tcp_wmem/tcp_rmem's maximum (4 MiB / 6 MiB by default) on its
 * own; so without CAP_NET_ADMIN autotuning is left in charge.
 */
static int tcp_set_bufs(int fd)
{
	int rc = set_opt(fd, SOL_SOCKET, SO_SNDBUFFORCE, MIG_TCP_BUF_BYTES);

	if (!rc)
		rc = set_opt(fd, SOL_SOCKET, SO_RCVBUFFORCE, MIG_TCP_BUF_BYTES);
	if (rc == -EPERM)
		return 0;
	if (rc)
		log_err("cannot size migration socket buffers: %s",
			strerror(-rc));
	return rc;
}

/*
 * NODELAY: the switchover records (READY, GO, RUNNING) are a few bytes each
 * and sit on the downtime's critical path; Nagle would hold them for an
 * ACK. Keepalive and TCP_USER_TIMEOUT: a destination that dies or is cut
 * off must fail the source's reads and writes in seconds, so the source
 * resumes its guest instead of waiting out the kernel's retransmissions
 * (~15 minutes). Keepalives are answered by the peer's kernel, so a peer
 * that is merely busy (loading state) is not mistaken for a dead one, and
 * a zero window that the peer keeps acknowledging is not a timeout.
 */
static int tcp_tune(int fd)
{
	static const struct {
		int level, name, val;
		const char *what;
	} opts[] = {
	    {IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"},
	    {SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE"},
	    {IPPROTO_TCP, TCP_KEEPIDLE, MIG_TCP_KEEPIDLE_S, "TCP_KEEPIDLE"},
	    {IPPROTO_TCP, TCP_KEEPINTVL, MIG_TCP_KEEPINTVL_S, "TCP_KEEPINTVL"},
	    {IPPROTO_TCP, TCP_KEEPCNT, MIG_TCP_KEEPCNT, "TCP_KEEPCNT"},
	    {IPPROTO_TCP, TCP_USER_TIMEOUT, MIG_TCP_USER_TIMEOUT_MS,
	     "TCP_USER_TIMEOUT"},
	};
	int rc;

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		rc = set_opt(fd, opts[i].level, opts[i].name, opts[i].val);
		if (rc) {
			log_err("cannot set %s on migration socket: %s",
				opts[i].what, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* ---- listen / accept --------------------------------------------------- */

/* A non-blocking listener on @ai, so that accept() after poll() cannot
 * block on a connection that was reset in between. */
static int listen_one(const struct addrinfo *ai, int *out)
{
	int fd, rc;

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	rc = set_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (!rc && bind(fd, ai->ai_addr, ai->ai_addrlen))
		rc = -errno;
	if (!rc)
		rc = tcp_set_bufs(fd); /* inherited by accepted sockets */
	if (!rc && listen(fd, LISTEN_BACKLOG))
		rc = -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

static const char *listen_err_str(int err)
{
	switch (err) {
	case -EADDRINUSE:
		return "address in use";
	case -EADDRNOTAVAIL:
		return "not a local address";
	case -EACCES:
		return "permission denied (privileged port?)";
	default:
		return strerror(-err);
	}
}

int mig_tcp_listen(const struct mig_uri *u, int *fd)
{
	struct addrinfo *res, *ai;
	char a[ADDR_STR_MAX];
	int rc;

	rc = resolve(u, 1, &res);
	if (rc)
		return rc;
	rc = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		rc = listen_one(ai, fd);
		if (!rc)
			break;
	}
	freeaddrinfo(res);
	if (rc)
		log_err("cannot listen for migration on %s: %s",
			addr_str(u, a, sizeof(a)), listen_err_str(rc));
	return rc;
}

int mig_tcp_accept(int lfd, int timeout_ms, int *fd)
{
	int64_t deadline = deadline_after(timeout_ms);
	int cfd, rc;

	for (;;) {
		rc = wait_fd(lfd, POLLIN, deadline);
		if (rc == -ETIMEDOUT) {
			log_err("no migration connection within %d ms",
				timeout_ms);
			return rc;
		}
		if (rc)
			break;
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd >= 0)
			break;
		rc = -errno;
		/* Gone before we took it, or a signal: wait again. */
		if (rc != -EAGAIN && rc != -ECONNABORTED && rc != -EINTR)
			break;
	}
	if (rc) {
		log_err("cannot accept migration connection: %s",
			strerror(-rc));
		return rc;
	}
	rc = tcp_tune(cfd);
	if (rc) {
		close(cfd);
		return rc;
	}
	*fd = cfd;
	return 0;
}

/* ---- connect ----------------------------------------------------------- */

/* The result of a non-blocking connect() that returned EINPROGRESS. */
static int connect_wait(int fd, int64_t deadline)
{
	socklen_t len = sizeof(int);
	int err = 0, rc;

	rc = wait_fd(fd, POLLOUT, deadline);
	if (rc)
		return rc;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

/* Connects to one address before @deadline; returns a blocking socket. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *out)
{
	int fd, rc;

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	rc = tcp_set_bufs(fd);
	if (!rc && connect(fd, ai->ai_addr, ai->ai_addrlen))
		rc = errno == EINPROGRESS ? connect_wait(fd, deadline) : -errno;
	if (!rc && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK))
		rc = -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

int mig_tcp_connect(const struct mig_uri *u, int timeout_ms, int *fd)
{
	int64_t deadline = deadline_after(timeout_ms);
	struct addrinfo *res, *ai;
	char a[ADDR_STR_MAX];
	int cfd = -1, rc;

	if (!u->port) {
		log_err("cannot connect to migration destination %s: no port",
			addr_str(u, a, sizeof(a)));
		return -EINVAL;
	}
	rc = resolve(u, 0, &res);
	if (rc)
		return rc;
	rc = -EADDRNOTAVAIL;
	/* The first address that answers wins; a timeout ends the search. */
	for (ai = res; ai && rc && rc != -ETIMEDOUT; ai = ai->ai_next)
		rc = connect_one(ai, deadline, &cfd);
	freeaddrinfo(res);
	if (!rc)
		rc = tcp_tune(cfd);
	else if (rc == -ETIMEDOUT)
		log_err("cannot connect to migration destination %s: "
			"no answer within %d ms",
			addr_str(u, a, sizeof(a)), timeout_ms);
	else
		log_err("cannot connect to migration destination %s: %s",
			addr_str(u, a, sizeof(a)), strerror(-rc));
	if (rc) {
		if (cfd >= 0)
			close(cfd);
		return rc;
	}
	*fd = cfd;
	return 0;
}

/* ---- misc -------------------------------------------------------------- */

static int set_timeo(int fd, int name, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (ms % 1000) * 1000};

	return setsockopt(fd, SOL_SOCKET, name, &tv, sizeof(tv)) ? -errno : 0;
}

int mig_fd_set_timeout(int fd, int recv_ms, int send_ms)
{
	int rc;

	if (recv_ms < 0 || send_ms < 0) {
		log_err("migration socket timeout must not be negative "
			"(recv %d ms, send %d ms)",
			recv_ms, send_ms);
		return -EINVAL;
	}
	rc = set_timeo(fd, SO_RCVTIMEO, recv_ms);
	if (!rc)
		rc = set_timeo(fd, SO_SNDTIMEO, send_ms);
	if (rc)
		log_err("cannot set timeouts on migration socket %d: %s", fd,
			strerror(-rc));
	return rc;
}

int mig_tcp_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	int rc;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		rc = -errno;
	else if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		rc = -EAFNOSUPPORT;
	log_err("cannot read the local port of migration socket %d: %s", fd,
		strerror(-rc));
	return rc;
}
