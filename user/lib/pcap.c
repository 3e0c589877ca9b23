// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Classic pcap files (Ethernet link type), read and written without libpcap. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "liblimpet.h"

struct pcap_fhdr {
	__u32 magic;
	__u16 major, minor;
	__s32 zone;
	__u32 sigfigs, snaplen, linktype;
};

struct pcap_rhdr {
	__u32 sec, usec, caplen, len;
};

#define PCAP_MAGIC 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define LINKTYPE_ETHERNET 1

static __u32 sw32(__u32 v, bool swap)
{
	return swap ? __builtin_bswap32(v) : v;
}

int pcap_open_read(struct pcap_reader *r, const char *path, char *err, size_t errlen)
{
	struct pcap_fhdr h;

	memset(r, 0, sizeof(*r));
	r->f = fopen(path, "rb");
	if (!r->f) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fread(&h, sizeof(h), 1, r->f) != 1)
		goto bad;
	if (h.magic == PCAP_MAGIC || h.magic == PCAP_MAGIC_NS) {
		r->nsec = h.magic == PCAP_MAGIC_NS;
	} else if (__builtin_bswap32(h.magic) == PCAP_MAGIC ||
		   __builtin_bswap32(h.magic) == PCAP_MAGIC_NS) {
		r->swap = true;
		r->nsec = __builtin_bswap32(h.magic) == PCAP_MAGIC_NS;
	} else {
		goto bad;
	}
	if (sw32(h.linktype, r->swap) != LINKTYPE_ETHERNET) {
		snprintf(err, errlen, "%s: link type %u is not Ethernet", path, sw32(h.linktype, r->swap));
		fclose(r->f);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: not a pcap file (pcapng is not supported)", path);
	fclose(r->f);
	return -EINVAL;
}

int pcap_next(struct pcap_reader *r, unsigned char *buf, size_t cap, size_t *len)
{
	struct pcap_rhdr h;
	size_t got = fread(&h, 1, sizeof(h), r->f);
	__u32 caplen;

	if (got != sizeof(h)) /* the end between records, or a record's header cut short */
		return got == 0 && feof(r->f) ? 0 : -1;
	caplen = sw32(h.caplen, r->swap);
	if (caplen > cap)
		return -1;
	if (fread(buf, 1, caplen, r->f) != caplen)
		return -1;
	*len = caplen;
	return 1;
}

FILE *pcap_open_write(const char *path)
{
	struct pcap_fhdr h = { PCAP_MAGIC, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET };
	FILE *f = fopen(path, "wb");

	if (f && fwrite(&h, sizeof(h), 1, f) != 1) {
		fclose(f);
		return NULL;
	}
	return f;
}

int pcap_write(FILE *f, const unsigned char *buf, size_t len)
{
	struct pcap_rhdr h = { 0, 0, (__u32)len, (__u32)len };
	struct timeval tv;

	gettimeofday(&tv, NULL);
	h.sec = tv.tv_sec;
	h.usec = tv.tv_usec;
	if (fwrite(&h, sizeof(h), 1, f) != 1 || fwrite(buf, 1, len, f) != len)
		return -EIO;
	return 0;
}
