/* hacd's logger setup (cluster/log.c); log_msg() itself is hv/log.h's. */
#ifndef CLUSTER_LOG_QB_H
#define CLUSTER_LOG_QB_H

void hacd_log_init(int to_syslog);
void hacd_log_fini(void);

#endif
