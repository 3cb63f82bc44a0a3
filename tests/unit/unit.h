/*
 * Shared by the unit tests (include once per test binary, after cmocka's
 * prerequisites): a log_msg() that replaces hv/log.c's, counting errors and
 * keeping the last line, so a test can check "logged once, naming the
 * problem". Set FERRY_TEST_LOG=1 to see the lines.
 */
#ifndef TESTS_UNIT_UNIT_H
#define TESTS_UNIT_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/log.h"

static int unit_log_errors;
static char unit_log_last[1024];

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(unit_log_last, sizeof(unit_log_last), fmt, ap);
	va_end(ap);
	if (lvl == LOG_LVL_ERR)
		unit_log_errors++;
	if (getenv("FERRY_TEST_LOG"))
		fprintf(stderr, "  log: %s\n", unit_log_last);
}

static inline void log_reset(void)
{
	unit_log_errors = 0;
	unit_log_last[0] = '\0';
}

static inline int log_errors(void)
{
	return unit_log_errors;
}

static inline void assert_logged_once(const char *needle)
{
	if (unit_log_errors != 1)
		fail_msg("%d errors logged, want 1 (last: \"%s\")",
			 unit_log_errors, unit_log_last);
	if (!strstr(unit_log_last, needle))
		fail_msg("log \"%s\" does not mention \"%s\"", unit_log_last,
			 needle);
}

#endif
