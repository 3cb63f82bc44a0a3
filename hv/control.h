/*
 * hv's control server: answers status, pause, resume, quit and (with
 * --test-hooks) debug-flip requests from `hv <cmd> --control PATH` and hacd,
 * over libqb IPC (proto/control.proto, framing in hv/control_msg.h).
 * Everything here runs on the main thread, inside the qb main loop that
 * main.c owns; it calls only the thread-safe vm.h API.
 */
#ifndef HV_CONTROL_H
#define HV_CONTROL_H

#include <qb/qbloop.h>

struct vm;
struct control;

/* Longest PATH accepted; control_service_name() maps it to a short libqb
 * service name (hashed when long), so this only bounds our own buffers. */
#define CONTROL_PATH_MAX 1024

/* Starts serving the control socket named @path on @loop. @path is only a
 * name (libqb uses Linux's abstract socket namespace): no file is created.
 * @vm and @loop stay owned by the caller and must outlive the server.
 * One server per process. Returns 0 or -errno, already logged:
 * -EADDRINUSE ("control socket PATH is in use": another hv serves it),
 * -ENAMETOOLONG, -EINVAL (empty path), -EBUSY (a server exists), -ENOMEM. */
int control_create(const char *path, struct vm *vm, qb_loop_t *loop,
		   struct control **out);

/* Returns 0 when nobody serves @path, or -EADDRINUSE (logged: "control
 * socket PATH is in use"). For a destination that must check before it
 * accepts a migration, not after. */
int control_check_free(const char *path);

/* Disconnects clients and withdraws the socket. NULL is a no-op. Call on
 * the main thread, before destroying the loop or the VM. */
void control_destroy(struct control *c);

#endif
