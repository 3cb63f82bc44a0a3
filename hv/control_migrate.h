/*
 * Migration status as the control protocol carries it: a pure conversion
 * from the engine's struct mig_status into a MigrationStatus message whose
 * storage lives in the caller's struct control_mig_msg. Any thread.
 */
#ifndef HV_CONTROL_MIGRATE_H
#define HV_CONTROL_MIGRATE_H

#include "migrate/migrate.h"
#include "proto/control.pb-c.h"

struct control_mig_msg {
	Ferry__Control__MigrationStatus msg;
	struct mig_status st;
	char uri[256];
};

/* Fills @out from @st; @out keeps pointers into itself only. */
void control_mig_to_proto(const struct mig_status *st, const char *uri,
			  struct control_mig_msg *out);

/* Engine options from a request (MiB/s to bytes/s and so on). */
void control_mig_options(const Ferry__Control__MigrateRequest *req,
			 struct mig_options *opt);

#endif
