/*
 * libFuzzer target: the stream reader (migrate/stream.c) and the page
 * record parser and applier (migrate/pages.c) on arbitrary input; input
 * format in tests/fuzz/harness.h. Built and run by `make fuzz`
 * (tests/fuzz/module.mk). Logging is silenced: the fuzzer wants speed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/log.h"
#include "tests/fuzz/harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	(void)lvl;
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}
