/*
 * Migration transport: parses "tcp:HOST:PORT" and opens tuned TCP
 * connections for the migration streams. TCP only for now; RDMA is to come
 * behind the same calls. Knows nothing of the stream format or of VMs.
 *
 * Every call returns 0 or -errno (mig_tcp_local_port: the port) and logs
 * the failure once, naming the address, so callers need not log again.
 * All fds are created O_CLOEXEC and belong to the caller; connected ones
 * are blocking, the listening one is not (use it with mig_tcp_accept()).
 * Any thread may call any of these; none keeps state.
 */
#ifndef MIGRATE_TRANSPORT_H
#define MIGRATE_TRANSPORT_H

#include <stdint.h>

struct mig_uri {
	char host[256]; /* name or address; IPv6 without the brackets */
	uint16_t port;
};

/* Parses "tcp:HOST:PORT". HOST is an IPv4 address, a name, or an IPv6
 * address in brackets ("tcp:[::1]:4444"); PORT is 1..65535 in decimal.
 * Returns 0, or -EINVAL logged as "bad migration address 'X': expected
 * tcp:HOST:PORT". @out is written only on success. */
int mig_uri_parse(const char *uri, struct mig_uri *out);
/* The same, but also accepts port 0 ("let the kernel choose"), for a
 * listening address whose port is then read with mig_tcp_local_port(). */
int mig_uri_parse_listen(const char *uri, struct mig_uri *out);

/* Listens on @u (SO_REUSEADDR, backlog 16); port 0 picks a free port.
 * *fd is set only on success. Returns 0, -EADDRINUSE, -EADDRNOTAVAIL
 * (not a local address, or a name that does not resolve), -EACCES, ... */
int mig_tcp_listen(const struct mig_uri *u, int *fd);

/* Waits up to @timeout_ms (< 0: forever) for a connection on @lfd (from
 * mig_tcp_listen) and accepts it, tuned as below. Returns 0 with *fd set,
 * -ETIMEDOUT, or another -errno. */
int mig_tcp_accept(int lfd, int timeout_ms, int *fd);

/* Connects to @u within @timeout_ms (< 0: forever), trying each address
 * the name resolves to, and returns a blocking, tuned socket in *fd.
 * Returns 0, -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -ENETUNREACH,
 * -EADDRNOTAVAIL (name does not resolve), -EINVAL (port 0), ... */
int mig_tcp_connect(const struct mig_uri *u, int timeout_ms, int *fd);

/* Tuning applied to every accepted and connected socket: TCP_NODELAY,
 * 4 MiB socket buffers (when the process may force them), keepalive
 * probing a silent peer after 2 s, every 1 s, 3 times, and
 * TCP_USER_TIMEOUT 5 s, so a dead peer fails reads and writes with
 * -ETIMEDOUT within seconds instead of the kernel's ~15 minutes. */
#define MIG_TCP_BUF_BYTES (4u << 20)
#define MIG_TCP_KEEPIDLE_S 2
#define MIG_TCP_KEEPINTVL_S 1
#define MIG_TCP_KEEPCNT 3
#define MIG_TCP_USER_TIMEOUT_MS 5000

/* Sets SO_RCVTIMEO / SO_SNDTIMEO on @fd; 0 means no timeout. A read or
 * write that times out then fails with EAGAIN. Returns 0, -EINVAL
 * (negative value) or -errno. */
int mig_fd_set_timeout(int fd, int recv_ms, int send_ms);

/* The local port of socket @fd (1..65535), or -errno. For reporting the
 * port a listener on port 0 got. */
int mig_tcp_local_port(int fd);

#endif
