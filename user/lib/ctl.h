/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* limpetctl's grammar: parsed into a command before anything is opened or written. */
#ifndef LIMPET_CTL_H
#define LIMPET_CTL_H

#include "liblimpet.h"

enum ctl_op {
	CTL_HELP, CTL_VIP_ADD, CTL_VIP_DEL, CTL_VIP_LIST, CTL_BE_ADD, CTL_BE_DRAIN, CTL_BE_DEL, CTL_BE_REPLACE,
	CTL_BE_LIST, CTL_BE_HEALTH, CTL_STATS, CTL_FLOWS, CTL_FLOWS_SWEEP, CTL_AFF_LIST, CTL_AFF_FLUSH, CTL_APPLY,
	CTL_SAVE,
};

struct ctl_cmd {
	enum ctl_op op;
	bool has_vip;
	struct vip_key vip;
	struct vip_opts vo;
	char be_spec[128];
	char be_new[128]; /* backend replace: the backend that comes */
	__u32 weight;
	__u8 health_mode;                  /* backend health */
	__u32 binding_s, idle_s, closed_s; /* flows sweep */
	const char *path;                  /* apply */
	const char *previous;              /* apply FILE previous PREV */
};

/* 0, or -EINVAL with a one-line message in err */
int ctl_parse(int argc, char **argv, struct ctl_cmd *cmd, char *err, size_t errlen);
/* 0 ok, else -errno with err filled */
int ctl_run(struct inst *in, const struct ctl_cmd *cmd, char *err, size_t errlen);
bool ctl_writes(const struct ctl_cmd *cmd);
void ctl_usage(FILE *f);

#endif
