/*
 * Waiting for the cluster to finish what an operation started (a drain's
 * or a migration's live migrations): polls status every 100 ms.
 */
#include <errno.h>
#include <time.h>

#include "hactl/hactl.h"
#include "hv/log.h"

int hactl_wait(const struct hactl *c, hactl_done_fn done, const void *arg)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	time_t end = time(NULL) + c->timeout_s;

	for (;;) {
		Ferry__Hactl__Reply *r = NULL;
		int rc = hactl_status(c, &r);

		if (rc < 0)
			return rc;
		rc = done(r, arg);
		ferry__hactl__reply__free_unpacked(r, NULL);
		if (rc != 0)
			return rc > 0 ? 0 : rc;
		if (time(NULL) >= end) {
			log_err("still not done after %u s", c->timeout_s);
			return -ETIMEDOUT;
		}
		nanosleep(&pause, NULL);
	}
}
