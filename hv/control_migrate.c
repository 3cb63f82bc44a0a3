/* Migration status and options <-> control messages; see control_migrate.h. */
#include <stdio.h>
#include <string.h>

#include "hv/control_migrate.h"
#include "hv/migration.h"

void control_mig_to_proto(const struct mig_status *st, const char *uri,
			  struct control_mig_msg *out)
{
	Ferry__Control__MigrationStatus *m = &out->msg;

	out->st = *st;
	snprintf(out->uri, sizeof(out->uri), "%s", uri ? uri : "");
	ferry__control__migration_status__init(m);
	m->phase = (char *)migration_phase_name(st->phase);
	m->round = st->round;
	m->pages_remaining = st->pages_remaining;
	m->dirty_rate = st->dirty_rate;
	m->bandwidth = st->bandwidth;
	m->throttle_pct = st->throttle_pct;
	m->total_ns = st->total_ns;
	m->setup_ns = st->setup_ns;
	m->downtime_ns = st->downtime_ns;
	m->bytes = st->bytes;
	m->pages_sent = st->pages_sent;
	m->rounds = st->rounds;
	m->n_round_pages = st->rounds < MIG_MAX_ROUNDS ? st->rounds
						       : MIG_MAX_ROUNDS;
	m->round_pages = out->st.round_pages;
	m->converged = st->converged;
	m->error = st->error;
	m->message = out->st.message;
	m->uri = out->uri;
}

void control_mig_options(const Ferry__Control__MigrateRequest *req,
			 struct mig_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->downtime_ms = req->downtime_ms;
	opt->max_bandwidth = req->max_bandwidth_mib << 20;
	opt->streams = req->streams;
	opt->compress = req->compress_lz4 ? MIG_COMPRESS_LZ4 : MIG_COMPRESS_NONE;
	opt->auto_converge = req->auto_converge;
}
