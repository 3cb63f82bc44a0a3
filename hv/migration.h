/*
 * hv's side of live migration: implements the engine's source and sink
 * interfaces (migrate/migrate.h) on a struct vm. An outgoing migration runs
 * on its own thread so the control socket keeps answering; the main loop
 * learns that it ended through an fd.
 */
#ifndef HV_MIGRATION_H
#define HV_MIGRATION_H

#include "migrate/migrate.h"

struct vm;
struct vm_config;
struct migration;

/* Starts migrating @vm to @uri on a new thread. Returns 0, -EBUSY when one
 * is already running, or -errno. The caller owns the migration object and
 * destroys it after it ended. */
int migration_start(struct vm *vm, const char *uri,
		    const struct mig_options *opt, struct migration **out);
/* Readable once the migration has ended (completed or failed). */
int migration_done_fd(const struct migration *m);
/* A consistent copy of the status, any thread. */
void migration_get_status(struct migration *m, struct mig_status *st);
/* Joins the thread (blocks until it ended). NULL is a no-op. */
void migration_destroy(struct migration *m);

/* Destination: waits on @uri for one migration and builds the VM from it
 * (checked against @cfg as for --restore), starts it after the source's GO.
 * Returns 0 with *out running, or -errno with nothing started. */
int migration_incoming(const struct vm_config *cfg, const char *uri,
		       struct vm **out);

const char *migration_phase_name(enum mig_phase ph);

#endif
