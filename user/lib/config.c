// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The configuration file: limpetctl's own command grammar, one command per line (docs/design.md
 * §5.1). Loaded and checked whole, then applied to an instance as the difference from its state;
 * and an instance's state printed back in the same grammar.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "liblimpet.h"
#include "ctl.h"

#define CFG_ARGS 64

#define LFAIL(...)                                                                                \
	do {                                                                                      \
		char m_[LIMPET_ERR_LEN];                                                          \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                                            \
		snprintf(err, errlen, "%s:%d: %s", path, line, m_);                               \
		return -EINVAL;                                                                   \
	} while (0)

/* Split a line into words; '#' starts a comment. Returns the word count or -1 (too many). */
static int split_words(char *s, char **argv)
{
	int n = 0;
	char *h = strchr(s, '#');

	if (h)
		*h = '\0';
	for (char *w = strtok(s, " \t\r\n"); w; w = strtok(NULL, " \t\r\n")) {
		if (n == CFG_ARGS)
			return -1;
		argv[n++] = w;
	}
	return n;
}

static int cfg_grow(void **arr, int n, size_t size)
{
	void *p;

	if (n % 16)
		return 0;
	p = realloc(*arr, (n + 16) * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

/* attach dev NAME [mode native|skb] [flows N] [halfopen N] [affinity N]: the daemon's. */
static int attach_line(int argc, char **argv, struct cfg *c, const char *path, int line,
		       char *err, size_t errlen)
{
	struct cfg_dev d = { .mode = LIMPET_XDP_NATIVE, .line = line };
	int i, t;

	if (argc < 3 || argc % 2 == 0 || strcmp(argv[1], "dev") || strlen(argv[2]) >= 16)
		LFAIL("attach: expected 'attach dev IFNAME [mode native|skb] [flows N] [halfopen N] [affinity N]'");
	snprintf(d.name, sizeof(d.name), "%s", argv[2]);
	for (i = 3; i < argc; i += 2) {
		for (t = 0; t < TBL_MAX && strcmp(argv[i], table_names[t]); t++)
			;
		if (t < TBL_MAX) {
			if (parse_u32(argv[i + 1], LIMPET_TABLE_MIN, LIMPET_TABLE_MAX, &d.ask[t]))
				LFAIL("attach: %s: expected a number of entries (%u-%u), got '%s'",
				      argv[i], LIMPET_TABLE_MIN, LIMPET_TABLE_MAX, argv[i + 1]);
		} else if (!strcmp(argv[i], "mode") && (!strcmp(argv[i + 1], "native") ||
							!strcmp(argv[i + 1], "skb"))) {
			d.mode = !strcmp(argv[i + 1], "skb") ? LIMPET_XDP_SKB : LIMPET_XDP_NATIVE;
		} else {
			LFAIL("attach: unknown option '%s %s' (mode native|skb, flows, halfopen, affinity)",
			      argv[i], argv[i + 1]);
		}
	}
	for (i = 0; i < c->ndevs; i++)
		if (!strcmp(c->devs[i].name, d.name))
			LFAIL("attach dev %s: already on line %d", d.name, c->devs[i].line);
	if (cfg_grow((void **)&c->devs, c->ndevs, sizeof(*c->devs)))
		return -ENOMEM;
	c->devs[c->ndevs++] = d;
	return 0;
}

static int vip_line(const struct ctl_cmd *cmd, struct cfg *c, const char *path, int line,
		    char *err, size_t errlen)
{
	char vs[80];

	for (int i = 0; i < c->nvips; i++)
		if (!memcmp(&c->vips[i].k, &cmd->vip, sizeof(cmd->vip)))
			LFAIL("vip %s: already added on line %d", vip_str(&cmd->vip, vs, sizeof(vs)),
			      c->vips[i].line);
	if (c->nvips == LIMPET_MAX_VIPS)
		LFAIL("too many VIPs (limit %d)", LIMPET_MAX_VIPS);
	if (cfg_grow((void **)&c->vips, c->nvips, sizeof(*c->vips)))
		return -ENOMEM;
	c->vips[c->nvips].k = cmd->vip;
	c->vips[c->nvips].o = cmd->vo;
	c->vips[c->nvips++].line = line;
	return 0;
}

static int cfg_vip_index(const struct cfg *c, const struct vip_key *k)
{
	for (int i = 0; i < c->nvips; i++)
		if (!memcmp(&c->vips[i].k, k, sizeof(*k)))
			return i;
	return -1;
}

/* backend add|drain: its VIP must come first; an endpoint once per VIP; drain one added. */
static int backend_line(const struct ctl_cmd *cmd, struct cfg *c, const char *path, int line,
			char *err, size_t errlen)
{
	struct cfg_backend b = { .k = cmd->vip, .weight = cmd->weight, .line = line };
	char vs[80], e2[LIMPET_ERR_LEN];
	int v = cfg_vip_index(c, &cmd->vip), i;

	vip_str(&cmd->vip, vs, sizeof(vs));
	if (v < 0)
		LFAIL("backend %s: vip %s is not added above", cmd->be_spec, vs);
	if (backend_endpoint(&cmd->vip, c->vips[v].o.mode, cmd->be_spec, b.addr, &b.family, &b.port,
			     e2, sizeof(e2)))
		LFAIL("%s", e2);
	snprintf(b.spec, sizeof(b.spec), "%s", cmd->be_spec);
	for (i = 0; i < c->nbes; i++)
		if (!memcmp(&c->bes[i].k, &b.k, sizeof(b.k)) && c->bes[i].port == b.port &&
		    c->bes[i].family == b.family && !memcmp(c->bes[i].addr, b.addr, 16))
			break;
	if (cmd->op == CTL_BE_DRAIN) {
		if (i == c->nbes)
			LFAIL("backend drain %s: not added to vip %s above", cmd->be_spec, vs);
		c->bes[i].drain = true;
		return 0;
	}
	if (i < c->nbes)
		LFAIL("backend %s: already added to vip %s on line %d", cmd->be_spec, vs, c->bes[i].line);
	if (cfg_grow((void **)&c->bes, c->nbes, sizeof(*c->bes)))
		return -ENOMEM;
	c->bes[c->nbes++] = b;
	return 0;
}

static int cfg_line(int argc, char **argv, struct cfg *c, const char *path, int line, char *err,
		    size_t errlen)
{
	struct ctl_cmd cmd;
	char e2[LIMPET_ERR_LEN];

	if (!strcmp(argv[0], "attach"))
		return attach_line(argc, argv, c, path, line, err, errlen);
	if (!strcmp(argv[0], "metrics")) {
		struct sockaddr_storage ss;
		socklen_t sl;

		if (argc != 3 || strcmp(argv[1], "listen"))
			LFAIL("metrics: expected 'metrics listen ADDR:PORT'");
		if (metrics_addr_parse(argv[2], &ss, &sl))
			LFAIL("metrics listen: expected ADDR:PORT or [ADDR6]:PORT, got '%s'", argv[2]);
		snprintf(c->metrics, sizeof(c->metrics), "%s", argv[2]);
		return 0;
	}
	if (!strcmp(argv[0], "announce")) {
		if (argc != 3 || strcmp(argv[1], "dev") || strlen(argv[2]) >= sizeof(c->announce_dev))
			LFAIL("announce: expected 'announce dev IFNAME'");
		if (c->announce_dev[0])
			LFAIL("announce: already given (one announce device per instance)");
		snprintf(c->announce_dev, sizeof(c->announce_dev), "%s", argv[2]);
		return 0;
	}
	if (ctl_parse(argc, argv, &cmd, e2, sizeof(e2)))
		LFAIL("%s", e2);
	if (cmd.op == CTL_VIP_ADD)
		return vip_line(&cmd, c, path, line, err, errlen);
	if (cmd.op == CTL_BE_ADD || cmd.op == CTL_BE_DRAIN)
		return backend_line(&cmd, c, path, line, err, errlen);
	if (cmd.op == CTL_FLOWS_SWEEP) {
		c->sweep_set = true;
		c->binding_s = cmd.binding_s;
		c->idle_s = cmd.idle_s;
		c->closed_s = cmd.closed_s;
		return 0;
	}
	LFAIL("'%s %s' is a command, not configuration (vip add, backend add|drain, attach, "
	      "flows sweep, metrics listen, announce dev)", argv[0], argc > 1 ? argv[1] : "");
}

void cfg_free(struct cfg *c)
{
	free(c->vips);
	free(c->bes);
	free(c->devs);
	memset(c, 0, sizeof(*c));
}

#define CFG_LINE_MAX 4094 /* bytes of a line, without its newline */

int cfg_load(const char *path, struct cfg *c, char *err, size_t errlen)
{
	char *buf = NULL, *argv[CFG_ARGS];
	FILE *f = fopen(path, "r");
	int line = 0, argc, ret = 0;
	size_t cap = 0;
	ssize_t len;

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (!f) {
		snprintf(err, errlen, "read %s: %s", path, strerror(errno));
		return -errno;
	}
	while (!ret && (len = getline(&buf, &cap, f)) > 0) {
		line++;
		if (len - (buf[len - 1] == '\n') > CFG_LINE_MAX) {
			snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, line, CFG_LINE_MAX);
			ret = -EINVAL;
			break;
		}
		if (memchr(buf, '\0', len)) { /* the words would end there, silently */
			snprintf(err, errlen, "%s:%d: a NUL byte: not a text file", path, line);
			ret = -EINVAL;
			break;
		}
		argc = split_words(buf, argv);
		if (argc < 0) {
			snprintf(err, errlen, "%s:%d: more than %d words", path, line, CFG_ARGS);
			ret = -EINVAL;
		} else if (argc > 0) {
			ret = cfg_line(argc, argv, c, path, line, err, errlen);
			if (ret == -ENOMEM)
				snprintf(err, errlen, "%s:%d: out of memory", path, line);
		}
	}
	free(buf);
	fclose(f);
	if (ret)
		cfg_free(c);
	return ret;
}
