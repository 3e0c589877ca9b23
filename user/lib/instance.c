// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* An instance is a directory of pinned maps; control commands reopen them and take a lock. */
#define _GNU_SOURCE /* setns */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "liblimpet.h"

const char *const inst_map_names[IM_MAX] = {
	[IM_VIPS] = LIMPET_STR(MAP_NAME_VIPS),
	[IM_BACKENDS] = LIMPET_STR(MAP_NAME_BACKENDS),
	[IM_MAGLEV] = LIMPET_STR(MAP_NAME_MAGLEV),
	[IM_FLOWS] = LIMPET_STR(MAP_NAME_FLOWS),
	[IM_HALFOPEN] = LIMPET_STR(MAP_NAME_HALFOPEN),
	[IM_REVERSE] = LIMPET_STR(MAP_NAME_REVERSE),
	[IM_AFFINITY] = LIMPET_STR(MAP_NAME_AFFINITY),
	[IM_FRAGS] = LIMPET_STR(MAP_NAME_FRAGS),
	[IM_VIP_STATS] = LIMPET_STR(MAP_NAME_VIP_STATS),
	[IM_BACKEND_STATS] = LIMPET_STR(MAP_NAME_BACKEND_STATS),
	[IM_REASONS] = LIMPET_STR(MAP_NAME_REASONS),
	[IM_TC_REASONS] = LIMPET_STR(MAP_NAME_TC_REASONS),
	[IM_CONFIG] = LIMPET_STR(MAP_NAME_CONFIG),
	[IM_DEVS] = LIMPET_STR(MAP_NAME_DEVS),
	[IM_TX_DEVS] = LIMPET_STR(MAP_NAME_TX_DEVS),
	[IM_TOKENS] = LIMPET_STR(MAP_NAME_TOKENS),
	[IM_EVENTS] = LIMPET_STR(MAP_NAME_EVENTS),
	[IM_CHECKS] = LIMPET_STR(MAP_NAME_CHECKS),
	[IM_PENDING] = LIMPET_STR(MAP_NAME_PENDING),
	[IM_DSR] = LIMPET_STR(MAP_NAME_DSR),
	[IM_VIP_FILTER] = LIMPET_STR(MAP_NAME_VIP_FILTER),
};

int inst_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
			return 0;
	return 1;
}

void inst_dir(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", LIMPET_PIN_ROOT, name);
}

/* `ip netns exec` runs its command in a mount namespace of its own with /sys mounted again:
 * the host's bpffs, and every instance pinned in it, is out of sight there.
 */
static bool bpffs_hidden(void)
{
	char a[64] = "", b[64] = "";
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return false;
	/* init's mount namespace, unreadable from the one ip netns exec makes, or another one */
	if (readlink("/proc/self/ns/mnt", a, sizeof(a) - 1) < 0)
		return false;
	return readlink("/proc/1/ns/mnt", b, sizeof(b) - 1) < 0 || strcmp(a, b) != 0;
}

#define HIDDEN_HINT                                                                               \
	"/sys/fs/bpf here is not the host's (ip netns exec mounts /sys anew, hiding limpet's "     \
	"pinned state): give the command -n NETNS instead (limpet -n NETNS …, limpetctl -n NETNS …)"

int netns_enter(const char *name, char *err, size_t errlen)
{
	char path[300];
	int fd;

	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		snprintf(err, errlen, "invalid network namespace name '%s'", name);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "network namespace '%s' not found (%s: %s); see ip netns list",
			 name, path, strerror(e));
		return -e;
	}
	if (setns(fd, CLONE_NEWNET)) {
		int e = errno;

		snprintf(err, errlen, "enter network namespace '%s': %s", name, strerror(e));
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

int bpffs_ensure(char *err, size_t errlen)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (bpffs_hidden()) {
		snprintf(err, errlen, "%s", HIDDEN_HINT);
		return -ENOENT;
	}
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		snprintf(err, errlen, "mount bpffs at /sys/fs/bpf: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int inst_open(struct inst *in, const char *name, char *err, size_t errlen)
{
	char path[256];
	int i;

	memset(in, 0, sizeof(*in));
	for (i = 0; i < IM_MAX; i++)
		in->fd[i] = -1;
	in->lock_fd = -1;
	if (!inst_name_valid(name)) {
		snprintf(err, errlen, "invalid instance name '%s' (letters, digits, '-', '_'; bpffs allows no dots)", name);
		return -EINVAL;
	}
	snprintf(in->name, sizeof(in->name), "%s", name);
	inst_dir(name, in->dir, sizeof(in->dir));
	if (access(in->dir, F_OK)) {
		if (bpffs_hidden())
			snprintf(err, errlen, "instance '%s' not found: %s", name, HIDDEN_HINT);
		else
			snprintf(err, errlen, "instance '%s' not found (%s); attach it first: limpet -i %s attach dev IFNAME",
				 name, in->dir, name);
		return -ENOENT;
	}
	for (i = 0; i < IM_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", in->dir, inst_map_names[i]);
		in->fd[i] = bpf_obj_get(path);
		if (in->fd[i] < 0) {
			int e = errno;

			snprintf(err, errlen, "open pinned map %s: %s%s", path, strerror(e),
				 e == EPERM || e == EACCES ? " (limpet needs root or CAP_BPF)" :
				 e == ENOENT ? " (an instance pinned by an older limpet: limpet attach "
					       "adds it, or limpet destroy and attach again)" : "");
			inst_close(in);
			return -e;
		}
	}
	return 0;
}

void inst_close(struct inst *in)
{
	int i;

	for (i = 0; i < IM_MAX; i++) {
		if (in->fd[i] >= 0)
			close(in->fd[i]);
		in->fd[i] = -1;
	}
	if (in->lock_fd >= 0)
		close(in->lock_fd);
	in->lock_fd = -1;
}

/* One writer at a time per instance: control commands never interleave. */
int inst_lock(const char *name, char *err, size_t errlen)
{
	char path[256];
	int fd;

	mkdir("/run/limpet", 0700);
	snprintf(path, sizeof(path), "/run/limpet/%s.lock", name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "open lock %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX)) {
		snprintf(err, errlen, "lock %s: %s", path, strerror(errno));
		close(fd);
		return -errno;
	}
	return fd;
}

int inst_from_object(struct inst *in, struct bpf_object *obj, char *err, size_t errlen)
{
	int i;

	memset(in, 0, sizeof(*in));
	in->lock_fd = -1;
	snprintf(in->name, sizeof(in->name), "(private)");
	for (i = 0; i < IM_MAX; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, inst_map_names[i]);

		in->fd[i] = m ? bpf_map__fd(m) : -1;
		if (in->fd[i] < 0) {
			snprintf(err, errlen, "object has no map '%s'", inst_map_names[i]);
			return -ENOENT;
		}
		in->fd[i] = dup(in->fd[i]);
	}
	return 0;
}

int obj_private_maps(struct bpf_object *obj, const struct inst *live, const enum inst_map *reuse,
		     int nreuse, char *err, size_t errlen)
{
	struct bpf_map *m;
	int i;

	bpf_object__for_each_map(m, obj)
		bpf_map__set_pin_path(m, NULL);
	for (i = 0; live && i < nreuse; i++) {
		m = bpf_object__find_map_by_name(obj, inst_map_names[reuse[i]]);
		if (!m || bpf_map__reuse_fd(m, live->fd[reuse[i]])) {
			snprintf(err, errlen, "reuse map '%s' of instance '%s' (built by another limpet version?)",
				 inst_map_names[reuse[i]], live->name);
			return -EINVAL;
		}
	}
	return 0;
}

static bool libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!libbpf_verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* libbpf's own log stays silent unless asked (-v, or LIMPET_DEBUG=1). */
void libbpf_quiet(bool verbose)
{
	libbpf_verbose = verbose || getenv("LIMPET_DEBUG");
	libbpf_set_print(libbpf_print);
}
