/*
 * Pieces of the control client shared by ctl.c and ctl_migrate.c. Main
 * thread of a short-lived client process.
 */
#ifndef HV_CTL_INTERNAL_H
#define HV_CTL_INTERNAL_H

#include <qb/qbipcc.h>

#include "hv/control_msg.h"

/* Connects to the hv serving @path within a second; logs why not. */
int ctl_connect(const char *path, qb_ipcc_connection_t **out);
/* Sends @req and waits up to @timeout_ms for the reply (caller frees it
 * with ferry__control__reply__free_unpacked). Returns 0 or -errno, logged. */
int ctl_send_recv(qb_ipcc_connection_t *c, const char *path,
		  const Ferry__Control__Request *req, int timeout_ms,
		  Ferry__Control__Reply **rep);

/* A migration's status or report (ctl_migrate.c): indented text lines, or
 * one JSON object without a newline. */
void ctl_migration_text(const Ferry__Control__MigrationStatus *m);
void ctl_migration_json(const Ferry__Control__MigrationStatus *m);

#endif
