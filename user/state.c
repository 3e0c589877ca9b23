// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The daemon's saved previous configuration (docs/design.md §5.2): the instance as it was before
 * the last reload that changed it, for a start with no state (a reboot) to apply first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"

#define STATE_DIR "/var/lib/limpet"

void state_path(char *buf, size_t len)
{
	snprintf(buf, len, STATE_DIR "/%s.prev.conf", instance);
}

static void snap_line(void *ctx, const char *line)
{
	fprintf(ctx, "%s\n", line);
}

char *state_snapshot(struct inst *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	if (vips_any(in) != 1)
		return NULL; /* nothing to go back to */
	f = open_memstream(&buf, &len);
	ret = f ? cfg_save(in, snap_line, f) : -ENOMEM;
	if (f)
		fclose(f);
	if (ret || !buf) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The rename reaches the disk now, not at the file system's next commit: the file is for a host
 * that fails, and a host fails soon after a change as often as late.
 */
static int state_dir_sync(void)
{
	int fd = open(STATE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int state_save(const char *snap)
{
	char path[128], tmp[160];
	size_t len = strlen(snap), off = 0;
	ssize_t n = 0;
	int fd, ret = 0;

	state_path(path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	mkdir(STATE_DIR, 0700);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (off < len && (n = write(fd, snap + off, len - off)) > 0)
		off += n;
	if (n < 0 || fsync(fd))
		ret = -errno;
	else if (off < len)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret ? ret : state_dir_sync();
}

int state_remove(void)
{
	char path[128];

	state_path(path, sizeof(path));
	return unlink(path) && errno != ENOENT ? -errno : 0;
}
