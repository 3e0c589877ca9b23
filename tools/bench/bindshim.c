// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* LD_PRELOAD shim for load generators that cannot choose their source address (wrk):
 * every IPv4 TCP connect() on a socket not yet bound is first bound to the next address of
 * LIMPET_BIND_SRC (addresses separated by spaces or commas), round robin across threads.
 * IP_BIND_ADDRESS_NO_PORT leaves the port to connect(), so ports are shared per destination
 * as usual and a few hundred addresses never run out of them.
 *
 * With LIMPET_BIND_DST set as well, the connection goes to the next address of that list
 * instead (same port): a client that spreads its own connections over several servers, which
 * is make bench's "direct to every backend" baseline.
 *
 *   LD_PRELOAD=build/limpet_bindshim.so LIMPET_BIND_SRC="198.18.0.1 198.18.0.2" wrk ...
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_SRC 65536

static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static struct in_addr srcs[MAX_SRC], dsts[MAX_SRC];
static unsigned int nsrc, ndst;
static unsigned int next_src, next_dst;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static unsigned int parse(const char *var, struct in_addr *out)
{
	const char *env = getenv(var);
	char *copy, *tok, *save = NULL;
	unsigned int n = 0;

	if (!env)
		return 0;
	copy = strdup(env);
	for (tok = strtok_r(copy, " ,\n", &save); tok && n < MAX_SRC;
	     tok = strtok_r(NULL, " ,\n", &save)) {
		if (inet_pton(AF_INET, tok, &out[n]) != 1) {
			fprintf(stderr, "bindshim: '%s' in %s is not an IPv4 address\n", tok, var);
			exit(2);
		}
		n++;
	}
	free(copy);
	return n;
}

static void init(void)
{
	real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	nsrc = parse("LIMPET_BIND_SRC", srcs);
	ndst = parse("LIMPET_BIND_DST", dsts);
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_in me, src, dst;
	socklen_t mlen = sizeof(me);
	int one = 1, type = 0;
	socklen_t tlen = sizeof(type);

	pthread_once(&once, init);
	if (nsrc && sa && sa->sa_family == AF_INET &&
	    !getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) && type == SOCK_STREAM &&
	    !getsockname(fd, (struct sockaddr *)&me, &mlen) && me.sin_port == 0 &&
	    me.sin_addr.s_addr == htonl(INADDR_ANY)) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr = srcs[__atomic_fetch_add(&next_src, 1, __ATOMIC_RELAXED) % nsrc];
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			return -1;
	}
	if (ndst && sa && sa->sa_family == AF_INET && len >= sizeof(dst)) {
		memcpy(&dst, sa, sizeof(dst));
		dst.sin_addr = dsts[__atomic_fetch_add(&next_dst, 1, __ATOMIC_RELAXED) % ndst];
		return real_connect(fd, (struct sockaddr *)&dst, sizeof(dst));
	}
	return real_connect(fd, sa, len);
}
