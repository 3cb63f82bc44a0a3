/*
 * log_msg() for hacd over libqb's logger: to stderr with millisecond
 * timestamps (cluster-up.sh and systemd collect it), and to syslog with
 * --syslog. FERRY_LOG=debug lowers the threshold. Linked into hacd only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <qb/qblog.h>

#include "cluster/log_qb.h"
#include "hv/log.h"

void hacd_log_init(int to_syslog)
{
	const char *env = getenv("FERRY_LOG");
	int prio = env && !strcmp(env, "debug") ? LOG_DEBUG : LOG_INFO;

	qb_log_init("hacd", LOG_DAEMON, prio);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, to_syslog ? QB_TRUE :
							       QB_FALSE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
			  "*", prio);
	qb_log_format_set(QB_LOG_STDERR, "%T %N[%P] %p: %b");
}

void hacd_log_fini(void)
{
	qb_log_fini();
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	qb_log(prio[lvl], "%s", line);
}
