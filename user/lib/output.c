// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* One output layer: commands describe tables and key/values once; text or JSON comes out. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "liblimpet.h"

#define OUT_MAX_COLS 16

static struct {
	bool json, pretty;
	json_object *root;      /* JSON: the whole document */
	json_object *table;     /* JSON: current array */
	json_object *row;       /* JSON: current row object */
	/* text: rows buffered so columns can be aligned */
	const char *const *cols;
	int ncols, col;
	char ***cells;
	int nrows, caprows;
	bool printed_any;
} o;

void out_init(bool json, bool pretty)
{
	memset(&o, 0, sizeof(o));
	o.json = json;
	o.pretty = pretty;
	if (json)
		o.root = json_object_new_object();
}

bool out_is_json(void)
{
	return o.json;
}

void out_table_begin(const char *name, const char *const *cols, int ncols)
{
	o.cols = cols;
	o.ncols = ncols > OUT_MAX_COLS ? OUT_MAX_COLS : ncols;
	if (o.json) {
		o.table = json_object_new_array();
		json_object_object_add(o.root, name, o.table);
		return;
	}
	o.nrows = 0;
}

void out_row_begin(void)
{
	o.col = 0;
	if (o.json) {
		o.row = json_object_new_object();
		json_object_array_add(o.table, o.row);
		return;
	}
	if (o.nrows == o.caprows) {
		o.caprows = o.caprows ? o.caprows * 2 : 64;
		o.cells = realloc(o.cells, o.caprows * sizeof(*o.cells));
	}
	o.cells[o.nrows++] = calloc(OUT_MAX_COLS, sizeof(char *));
}

static void cell_text(const char *v)
{
	if (o.col < o.ncols)
		o.cells[o.nrows - 1][o.col] = strdup(v);
	o.col++;
}

void out_cell_str(const char *v)
{
	if (o.json) {
		if (o.col < o.ncols)
			json_object_object_add(o.row, o.cols[o.col], json_object_new_string(v));
		o.col++;
		return;
	}
	cell_text(v);
}

void out_cell_u64(__u64 v)
{
	char buf[32];

	if (o.json) {
		if (o.col < o.ncols)
			json_object_object_add(o.row, o.cols[o.col], json_object_new_uint64(v));
		o.col++;
		return;
	}
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	cell_text(buf);
}

void out_row_end(void)
{
}

void out_table_end(void)
{
	int w[OUT_MAX_COLS] = { 0 }, r, c;

	if (o.json)
		return;
	for (c = 0; c < o.ncols; c++)
		w[c] = strlen(o.cols[c]);
	for (r = 0; r < o.nrows; r++)
		for (c = 0; c < o.ncols; c++)
			if (o.cells[r][c] && (int)strlen(o.cells[r][c]) > w[c])
				w[c] = strlen(o.cells[r][c]);
	if (o.printed_any)
		putchar('\n');
	for (c = 0; c < o.ncols; c++)
		printf("%-*s%s", c == o.ncols - 1 ? 0 : w[c], o.cols[c], c == o.ncols - 1 ? "\n" : "  ");
	for (r = 0; r < o.nrows; r++) {
		for (c = 0; c < o.ncols; c++) {
			const char *v = o.cells[r][c] ? o.cells[r][c] : "-";

			printf("%-*s%s", c == o.ncols - 1 ? 0 : w[c], v, c == o.ncols - 1 ? "\n" : "  ");
			free(o.cells[r][c]);
		}
		free(o.cells[r]);
	}
	o.nrows = 0;
	o.printed_any = true;
}

void out_table_end_or_drop(int ret)
{
	if (ret && !o.json && !o.nrows)
		return;
	out_table_end();
}

void out_kv_str(const char *k, const char *v)
{
	if (o.json) {
		json_object_object_add(o.root, k, json_object_new_string(v));
		return;
	}
	printf("%-14s %s\n", k, v);
	o.printed_any = true;
}

void out_kv_u64(const char *k, __u64 v)
{
	if (o.json) {
		json_object_object_add(o.root, k, json_object_new_uint64(v));
		return;
	}
	printf("%-14s %llu\n", k, (unsigned long long)v);
	o.printed_any = true;
}

void out_flush(void)
{
	if (o.json && o.root) {
		puts(json_object_to_json_string_ext(o.root, (o.pretty ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN) |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o.root);
		o.root = NULL;
	}
	free(o.cells);
	o.cells = NULL;
	o.caprows = 0;
	fflush(stdout);
}

/* "Error: …" on stderr; with -j, {"error": "…"} on stdout as well. */
void out_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "Error: %s\n", msg);
	if (o.json) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "error", json_object_new_string(msg));
		puts(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(e);
		if (o.root)
			json_object_put(o.root);
		o.root = NULL;
	}
}

/* A command-line option getopt refused (c: '?' unknown, ':' missing its argument; arg: the
 * word it was in, which names a long option), as one error line.
 */
void out_opt_error(int c, int opt, const char *arg, const char *help)
{
	char name[64];

	if (arg && !strncmp(arg, "--", 2))
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
	else
		snprintf(name, sizeof(name), "-%c", opt > 32 && opt < 127 ? opt : '?');
	if (c == ':')
		out_error("option '%s' needs an argument; try: %s", name, help);
	else if (arg && !strncmp(arg, "--", 2) && strchr(arg, '='))
		out_error("option '%s' is unknown or takes no argument; try: %s", name, help);
	else
		out_error("unknown option '%s'; try: %s", name, help);
}
