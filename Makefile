# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# limpet: make | make check | make demo | make bench | make install

BUILD    ?= build
PREFIX   ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR  ?= $(PREFIX)/lib/systemd/system
MANDIR   ?= $(PREFIX)/share/man
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -std=gnu11 \
	    -Iinclude -Iuser -I$(BUILD)
LDLIBS   += -lbpf -lelf -lz -ljson-c -lmnl
BPF_CFLAGS := -O2 -g -Wall -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude \
	      $(if $(MULTIARCH),-idirafter /usr/include/$(MULTIARCH))

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.PHONY: all deps man install uninstall check test-unit test-bpf test-e2e demo bench clean

LIB_SRCS := $(wildcard user/lib/*.c)
LIB_OBJS := $(patsubst user/lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRCS))
BPF_HDRS := $(wildcard bpf/lib/*.h) $(wildcard include/limpet/*.h)
BPF_OBJS := $(BUILD)/limpet_xdp.bpf.o $(BUILD)/limpet_tc.bpf.o $(BUILD)/limpet_pass.bpf.o $(BUILD)/limpet_decap.bpf.o \
	    $(BUILD)/limpet_count.bpf.o
TEST_BPF_OBJS := $(BUILD)/lossy.bpf.o
BENCH    := $(BUILD)/bench_xdp $(BUILD)/maglev_bench $(BUILD)/limpet_bindshim.so
TESTS    := $(BUILD)/test_unit $(BUILD)/test_bpf $(BENCH)

all: $(BUILD)/limpet $(BUILD)/limpetctl $(BPF_OBJS)

deps:
	$(Q)tools/install-deps.sh

$(BUILD) $(BUILD)/lib:
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

$(BUILD)/lib/%.o: user/lib/%.c user/lib/*.h include/limpet/*.h | $(BUILD)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/lib/attach.o: $(BUILD)/limpet_xdp.skel.h $(BUILD)/limpet_tc.skel.h
$(BUILD)/lib/decap.o: $(BUILD)/limpet_decap.skel.h
$(BUILD)/lib/tables.o: $(BUILD)/limpet_count.skel.h

$(BUILD)/liblimpet.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

LOADER_SRCS := user/limpet.c user/run.c user/metrics_http.c user/health.c user/decap.c user/state.c

$(BUILD)/limpet: $(LOADER_SRCS) user/loader.h $(BUILD)/limpet_xdp.skel.h $(BUILD)/limpet_tc.skel.h $(BUILD)/liblimpet.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LOADER_SRCS) $(BUILD)/liblimpet.a $(LDLIBS) -lmicrohttpd -lcurl -o $@

$(BUILD)/limpetctl: user/limpetctl.c $(BUILD)/liblimpet.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $< $(BUILD)/liblimpet.a $(LDLIBS) -o $@

$(BUILD)/test_unit: tests/unit/test_unit.c $(BUILD)/liblimpet.a
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $< $(BUILD)/liblimpet.a $(LDLIBS) -lcmocka -o $@

$(BUILD)/test_bpf: $(wildcard tests/bpf/*.c) $(wildcard tests/bpf/*.h) $(BUILD)/limpet_xdp.skel.h $(BUILD)/limpet_tc.skel.h $(BUILD)/limpet_decap.skel.h $(BUILD)/liblimpet.a
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/bpf $(wildcard tests/bpf/*.c) $(BUILD)/liblimpet.a $(LDLIBS) -lcmocka -o $@

$(BUILD)/bench_xdp: tools/bench/bench_xdp.c $(BUILD)/limpet_xdp.skel.h $(BUILD)/floor.skel.h $(BUILD)/limpet_decap.skel.h $(BUILD)/liblimpet.a
	$(call msg,BENCH,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/bpf $< $(BUILD)/liblimpet.a $(LDLIBS) -o $@

$(BUILD)/maglev_bench: tools/bench/maglev_bench.c $(BUILD)/liblimpet.a
	$(call msg,BENCH,$@)
	$(Q)$(CC) $(CFLAGS) $< $(BUILD)/liblimpet.a $(LDLIBS) -o $@

$(BUILD)/limpet_bindshim.so: tools/bench/bindshim.c | $(BUILD)
	$(call msg,SHLIB,$@)
	$(Q)$(CC) -O2 -Wall -Wextra -fPIC -shared $< -ldl -pthread -o $@

$(BUILD)/lossy.bpf.o: tools/lossy.bpf.c | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/floor.bpf.o: tools/bench/floor.bpf.c $(BPF_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Ibpf -c $< -o $@

# Tests need root, a BPF-capable kernel and network namespaces; see tests/run.sh.
check: deps
	$(Q)$(MAKE) --no-print-directory all $(TESTS) $(TEST_BPF_OBJS)
	$(Q)tests/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh

bench: deps
	$(Q)LIMPET_BENCH=1 tools/install-deps.sh
	$(Q)$(MAKE) --no-print-directory all $(BENCH)
	$(Q)tools/bench/run.sh

MANS := $(BUILD)/man/limpet.8 $(BUILD)/man/limpetctl.8 $(BUILD)/man/limpet.conf.5

$(BUILD)/man/%: docs/man/%.scd
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)scdoc <$< >$@

man: $(MANS)

# Binaries, the systemd unit (limpet@NAME runs /etc/limpet/NAME.conf), an example
# configuration and the man pages; DESTDIR for staging.
install: all $(MANS)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/limpet \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(BUILD)/limpet $(BUILD)/limpetctl $(DESTDIR)$(PREFIX)/sbin/
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' packaging/limpet@.service.in >$(DESTDIR)$(UNITDIR)/limpet@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/limpet@.service
	install -m 0644 packaging/example.conf $(DESTDIR)$(SYSCONFDIR)/limpet/example.conf
	install -m 0644 $(BUILD)/man/limpet.8 $(BUILD)/man/limpetctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(BUILD)/man/limpet.conf.5 $(DESTDIR)$(MANDIR)/man5/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/limpet $(DESTDIR)$(PREFIX)/sbin/limpetctl \
		$(DESTDIR)$(UNITDIR)/limpet@.service $(DESTDIR)$(SYSCONFDIR)/limpet/example.conf \
		$(DESTDIR)$(MANDIR)/man8/limpet.8 $(DESTDIR)$(MANDIR)/man8/limpetctl.8 \
		$(DESTDIR)$(MANDIR)/man5/limpet.conf.5

clean:
	rm -rf $(BUILD)
