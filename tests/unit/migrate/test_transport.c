/*
 * migrate/transport.c on loopback (127.0.0.1 only, ephemeral ports):
 * "tcp:HOST:PORT" parsing, listen + connect + accept exchanging bytes on
 * tuned sockets, and the failures each logged once with the address:
 * connection refused, connect and accept timeouts, port in use, socket
 * timeouts, a non-socket fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include "migrate/transport.h"

/* ---- helpers ----------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct mig_uri loopback(uint16_t port)
{
	struct mig_uri u = {.host = "127.0.0.1", .port = port};

	return u;
}

/* A listener on 127.0.0.1 with a kernel-chosen port, returned in *port. */
static int listen_ephemeral(uint16_t *port)
{
	struct mig_uri u = loopback(0);
	int lfd, p;

	assert_int_equal(mig_tcp_listen(&u, &lfd), 0);
	p = mig_tcp_local_port(lfd);
	assert_true(p > 0 && p <= 65535);
	*port = (uint16_t)p;
	return lfd;
}

static int get_int_opt(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int v = -1;

	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

/* Whether this process may force socket buffer sizes (CAP_NET_ADMIN). */
static int can_force_bufs(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), v = 1 << 20, ok;

	assert_true(fd >= 0);
	ok = !setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v));
	close(fd);
	return ok;
}

static void assert_tuned(int fd)
{
	assert_int_equal(get_int_opt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
	assert_int_equal(get_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(get_int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE),
			 MIG_TCP_KEEPIDLE_S);
	assert_int_equal(get_int_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL),
			 MIG_TCP_KEEPINTVL_S);
	assert_int_equal(get_int_opt(fd, IPPROTO_TCP, TCP_KEEPCNT),
			 MIG_TCP_KEEPCNT);
	assert_int_equal(get_int_opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT),
			 MIG_TCP_USER_TIMEOUT_MS);
	/* The kernel reports twice what was set. */
	if (can_force_bufs()) {
		assert_true(get_int_opt(fd, SOL_SOCKET, SO_SNDBUF) >=
			    (int)MIG_TCP_BUF_BYTES);
		assert_true(get_int_opt(fd, SOL_SOCKET, SO_RCVBUF) >=
			    (int)MIG_TCP_BUF_BYTES);
	}
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static void xfer(int from, int to, const uint8_t *buf, size_t len)
{
	uint8_t *got = malloc(len);
	size_t n = 0;
	ssize_t r;

	assert_non_null(got);
	assert_int_equal(send(from, buf, len, MSG_NOSIGNAL), (ssize_t)len);
	while (n < len) {
		r = recv(to, got + n, len - n, 0);
		assert_true(r > 0);
		n += (size_t)r;
	}
	assert_memory_equal(got, buf, len);
	free(got);
}

/* ---- parsing ----------------------------------------------------------- */

static void test_parse_good(void **state)
{
	static const struct {
		const char *uri, *host;
		uint16_t port;
	} cases[] = {
	    {"tcp:127.0.0.1:4444", "127.0.0.1", 4444},
	    {"tcp:dst-host.example.com:1", "dst-host.example.com", 1},
	    {"tcp:node_2:65535", "node_2", 65535},
	    {"tcp:[::1]:4444", "::1", 4444},
	    {"tcp:[fe80::1%eth0]:80", "fe80::1%eth0", 80},
	    {"tcp:[::ffff:10.0.0.1]:007", "::ffff:10.0.0.1", 7},
	};
	struct mig_uri u;

	(void)state;
	log_reset();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&u, 0xaa, sizeof(u));
		assert_int_equal(mig_uri_parse(cases[i].uri, &u), 0);
		assert_string_equal(u.host, cases[i].host);
		assert_int_equal(u.port, cases[i].port);
	}
	assert_int_equal(log_errors(), 0);
}

static void test_parse_bad(void **state)
{
	static const char *const cases[] = {
	    NULL,
	    "",
	    "tcp:",
	    "tcp:host",	      /* missing port */
	    "tcp:host:",      /* empty port */
	    "tcp::4444",      /* empty host */
	    "tcp:host:0",     /* port 0 */
	    "tcp:host:65536", /* port too big */
	    "tcp:host:99999999999999999999999",
	    "tcp:host:-1",
	    "tcp:host:+1",
	    "tcp:host: 1",
	    "tcp:host:1x",
	    "tcp:host:0x10",
	    "udp:host:1",
	    "TCP:host:1",
	    "host:1",
	    "rdma:host:1",
	    "tcp:ho st:1",
	    "tcp:host/x:1",
	    "tcp:user@host:1",
	    "tcp:::1:4444",  /* IPv6 without brackets */
	    "tcp:[::1:4444", /* no closing bracket */
	    "tcp:[::1]4444", /* no colon after the bracket */
	    "tcp:[::1]:",
	    "tcp:[]:4444",
	    "tcp:[::1]:0",
	    "tcp:[::1 ]:1",
	    "tcp:host:1\n",
	    "garbage",
	};
	struct mig_uri u, before;

	(void)state;
	memset(&before, 0x5a, sizeof(before));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		u = before;
		log_reset();
		assert_int_equal(mig_uri_parse(cases[i], &u), -EINVAL);
		assert_logged_once("expected tcp:HOST:PORT");
		assert_memory_equal(&u, &before, sizeof(u));
	}
	log_reset();
	assert_int_equal(mig_uri_parse("tcp:x:1", &u), 0);
	assert_int_equal(mig_uri_parse("tcp:bad host:1", &u), -EINVAL);
	assert_logged_once("bad migration address 'tcp:bad host:1'");
}

static void test_parse_host_length(void **state)
{
	char uri[320], host[260];
	struct mig_uri u;

	(void)state;
	memset(host, 'a', 255);
	host[255] = '\0';
	snprintf(uri, sizeof(uri), "tcp:%s:1", host);
	assert_int_equal(mig_uri_parse(uri, &u), 0);
	assert_string_equal(u.host, host);
	host[255] = 'a';
	host[256] = '\0';
	snprintf(uri, sizeof(uri), "tcp:%s:1", host);
	log_reset();
	assert_int_equal(mig_uri_parse(uri, &u), -EINVAL);
	assert_logged_once("expected tcp:HOST:PORT");
}

static void test_parse_listen_port0(void **state)
{
	struct mig_uri u;

	(void)state;
	log_reset();
	assert_int_equal(mig_uri_parse_listen("tcp:0.0.0.0:0", &u), 0);
	assert_string_equal(u.host, "0.0.0.0");
	assert_int_equal(u.port, 0);
	assert_int_equal(mig_uri_parse_listen("tcp:[::]:4444", &u), 0);
	assert_int_equal(u.port, 4444);
	assert_int_equal(log_errors(), 0);
	assert_int_equal(mig_uri_parse_listen("tcp:h:65536", &u), -EINVAL);
	assert_logged_once("expected tcp:HOST:PORT");
}

/* ---- connections ------------------------------------------------------- */

static void test_listen_connect_accept(void **state)
{
	uint8_t small[] = "READY", *big;
	size_t big_len = 3u << 20;
	int lfd, cfd, afd;
	uint16_t port;
	struct mig_uri u;

	(void)state;
	log_reset();
	lfd = listen_ephemeral(&port);
	assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
	u = loopback(port);
	/* Loopback connect completes into the backlog before accept. */
	assert_int_equal(mig_tcp_connect(&u, 1000, &cfd), 0);
	assert_int_equal(mig_tcp_accept(lfd, 1000, &afd), 0);
	assert_int_equal(mig_tcp_local_port(afd), port);
	assert_tuned(cfd);
	assert_tuned(afd);

	xfer(cfd, afd, small, sizeof(small));
	xfer(afd, cfd, small, 3);
	big = malloc(big_len);
	assert_non_null(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 131 + (i >> 12));
	xfer(cfd, afd, big, big_len); /* fits in the 4 MiB buffers */
	free(big);
	assert_int_equal(log_errors(), 0);
	close(cfd);
	close(afd);
	close(lfd);
}

/* Several connections on one listener, as with multiple streams. */
static void test_accept_several(void **state)
{
	int lfd, cfd[4], afd[4];
	struct mig_uri u;
	uint16_t port;
	uint8_t b;

	(void)state;
	lfd = listen_ephemeral(&port);
	u = loopback(port);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mig_tcp_connect(&u, 1000, &cfd[i]), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mig_tcp_accept(lfd, -1, &afd[i]), 0);
	/* Accepted in connection order. */
	for (int i = 0; i < 4; i++) {
		b = (uint8_t)i;
		xfer(cfd[i], afd[i], &b, 1);
	}
	for (int i = 0; i < 4; i++) {
		close(cfd[i]);
		close(afd[i]);
	}
	close(lfd);
}

static void test_connect_refused(void **state)
{
	struct mig_uri u;
	char needle[64];
	int64_t t0;
	uint16_t port;
	int fd = -1;

	(void)state;
	/* A port that was free a moment ago and has no listener now. */
	close(listen_ephemeral(&port));
	u = loopback(port);
	log_reset();
	t0 = now_ms();
	assert_int_equal(mig_tcp_connect(&u, 5000, &fd), -ECONNREFUSED);
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(fd, -1);
	snprintf(needle, sizeof(needle), "127.0.0.1:%u", port);
	assert_logged_once(needle);
}

/* A listener with a full accept queue drops further SYNs, so a connect
 * gets no answer at all: the timeout must end it. */
static void test_connect_timeout(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int lfd, fds[8], n = 0, rc = 0;
	struct mig_uri u;
	int64_t t0;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	u = loopback(ntohs(sa.sin_port));
	while (n < 8) {
		log_reset();
		t0 = now_ms();
		rc = mig_tcp_connect(&u, 200, &fds[n]);
		if (rc)
			break;
		n++;
	}
	assert_int_equal(rc, -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 190);
	assert_true(now_ms() - t0 < 2000);
	assert_logged_once("no answer within 200 ms");
	while (n--)
		close(fds[n]);
	close(lfd);
}

static void test_accept_timeout(void **state)
{
	int lfd, fd = -1;
	uint16_t port;
	int64_t t0, dt;

	(void)state;
	lfd = listen_ephemeral(&port);
	log_reset();
	t0 = now_ms();
	assert_int_equal(mig_tcp_accept(lfd, 100, &fd), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 95 && dt < 2000);
	assert_int_equal(fd, -1);
	assert_logged_once("no migration connection within 100 ms");
	/* Zero means poll once. */
	log_reset();
	assert_int_equal(mig_tcp_accept(lfd, 0, &fd), -ETIMEDOUT);
	assert_logged_once("within 0 ms");
	close(lfd);
}

static void test_listen_in_use(void **state)
{
	struct mig_uri u;
	char needle[64];
	int lfd, fd = -1;
	uint16_t port;

	(void)state;
	lfd = listen_ephemeral(&port);
	u = loopback(port);
	log_reset();
	/* SO_REUSEADDR allows reusing TIME_WAIT ports, not a live listener. */
	assert_int_equal(mig_tcp_listen(&u, &fd), -EADDRINUSE);
	assert_int_equal(fd, -1);
	assert_logged_once("address in use");
	snprintf(needle, sizeof(needle), "127.0.0.1:%u", port);
	assert_true(strstr(unit_log_last, needle) != NULL);
	close(lfd);
	/* Free again once the first listener is gone. */
	log_reset();
	assert_int_equal(mig_tcp_listen(&u, &fd), 0);
	assert_int_equal(log_errors(), 0);
	close(fd);
}

/* A connection closed after TIME_WAIT must not block a new listener. */
static void test_listen_reuse_after_close(void **state)
{
	int lfd, cfd, afd;
	struct mig_uri u;
	uint16_t port;

	(void)state;
	lfd = listen_ephemeral(&port);
	u = loopback(port);
	assert_int_equal(mig_tcp_connect(&u, 1000, &cfd), 0);
	assert_int_equal(mig_tcp_accept(lfd, 1000, &afd), 0);
	close(afd); /* the server side closes first: TIME_WAIT on port */
	close(cfd);
	close(lfd);
	log_reset();
	assert_int_equal(mig_tcp_listen(&u, &lfd), 0);
	assert_int_equal(log_errors(), 0);
	close(lfd);
}

static void test_connect_port0(void **state)
{
	struct mig_uri u = loopback(0);
	int fd = -1;

	(void)state;
	log_reset();
	assert_int_equal(mig_tcp_connect(&u, 100, &fd), -EINVAL);
	assert_int_equal(fd, -1);
	assert_logged_once("127.0.0.1:0");
}

static void test_fd_timeout(void **state)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);
	int sv[2];
	int64_t t0;
	char c;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	log_reset();
	assert_int_equal(mig_fd_set_timeout(sv[0], 1500, 250), 0);
	assert_int_equal(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &len),
			 0);
	/* Read back in jiffies: up to a tick (at HZ=100) over. */
	assert_int_equal(tv.tv_sec, 1);
	assert_in_range(tv.tv_usec, 500000, 510000);
	assert_int_equal(getsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, &len),
			 0);
	assert_int_equal(tv.tv_sec, 0);
	assert_in_range(tv.tv_usec, 250000, 260000);

	assert_int_equal(mig_fd_set_timeout(sv[0], 50, 0), 0);
	t0 = now_ms();
	assert_int_equal(recv(sv[0], &c, 1, 0), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	assert_true(now_ms() - t0 >= 45);

	/* 0 clears it. */
	assert_int_equal(mig_fd_set_timeout(sv[0], 0, 0), 0);
	assert_int_equal(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &len),
			 0);
	assert_int_equal(tv.tv_sec, 0);
	assert_int_equal(tv.tv_usec, 0);
	assert_int_equal(log_errors(), 0);

	assert_int_equal(mig_fd_set_timeout(sv[0], -1, 0), -EINVAL);
	assert_logged_once("must not be negative");
	close(sv[0]);
	close(sv[1]);
}

static void test_not_a_socket(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	log_reset();
	assert_int_equal(mig_tcp_local_port(p[0]), -ENOTSOCK);
	assert_logged_once("local port");
	log_reset();
	assert_int_equal(mig_fd_set_timeout(p[0], 10, 10), -ENOTSOCK);
	assert_logged_once("cannot set timeouts");
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_parse_host_length),
	    cmocka_unit_test(test_parse_listen_port0),
	    cmocka_unit_test(test_listen_connect_accept),
	    cmocka_unit_test(test_accept_several),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_connect_timeout),
	    cmocka_unit_test(test_accept_timeout),
	    cmocka_unit_test(test_listen_in_use),
	    cmocka_unit_test(test_listen_reuse_after_close),
	    cmocka_unit_test(test_connect_port0),
	    cmocka_unit_test(test_fd_timeout),
	    cmocka_unit_test(test_not_a_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
