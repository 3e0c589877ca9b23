// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The daemon's /metrics endpoint, served by libmicrohttpd's own thread (docs/design.md §5.3). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>

#include "loader.h"

static struct inst metrics_in;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_len, void **state)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("GET only\n"), 9, "text/plain");
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, strdup("limpet serves /metrics\n"), 23,
			     "text/plain");
	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	if (metrics_render(&metrics_in, f)) {
		fclose(f);
		free(body);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, strdup("reading the maps failed\n"),
			     24, "text/plain");
	}
	fclose(f);
	return reply(conn, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

void *metrics_start(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	socklen_t sl;

	if (metrics_addr_parse(addr, &ss, &sl)) {
		snprintf(err, errlen, "metrics listen: bad address '%s'", addr);
		return NULL;
	}
	if (inst_open(&metrics_in, instance, err, errlen))
		return NULL;
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
				     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &ss,
			     MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT, 64u,
			     MHD_OPTION_END);
	if (!d) {
		snprintf(err, errlen, "metrics listen %s: cannot listen there (in use, or no such address)",
			 addr);
		inst_close(&metrics_in);
	}
	return d;
}

void metrics_stop(void *d)
{
	if (!d)
		return;
	MHD_stop_daemon(d);
	inst_close(&metrics_in);
}
