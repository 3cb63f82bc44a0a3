/*
 * stderr logger. FERRY_LOG=debug|info|warn|err picks the threshold
 * (default info); read once per call, which is cheap enough because
 * nothing logs on a hot path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/log.h"

static enum log_level log_threshold(void)
{
	const char *s = getenv("FERRY_LOG");

	if (!s)
		return LOG_LVL_INFO;
	if (!strcmp(s, "debug"))
		return LOG_LVL_DEBUG;
	if (!strcmp(s, "warn"))
		return LOG_LVL_WARN;
	if (!strcmp(s, "err"))
		return LOG_LVL_ERR;
	return LOG_LVL_INFO;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "" };
	char line[1024];
	va_list ap;
	int saved = errno;

	if (lvl > log_threshold())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s%s\n", program_invocation_short_name, tag[lvl],
		line);
	errno = saved;
}
