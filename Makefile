# skyha - top-level build.
#
#   make            build every program into build/
#   make deps       install the Debian packages needed (idempotent)
#   make check      unit tests under ASan/UBSan, unit files, then cluster tests
#   make demo       a two-node cluster in network namespaces, with a failover
#   make demo-farm  a three-node farm behind HAProxy losing and regaining a node
#   make bench      every bench/*.py: failover vs keepalived, checkd, healthd, ...
#   make install    PREFIX=/usr DESTDIR=... (programs, units, man pages, completion)
#   make man        man pages from docs/man/*.md into build/man/
#   make deb        build/deb/skyha_<version>_amd64.deb (dpkg-buildpackage), lintian
#   make systemd    the systemd lab alone: booted containers (tests/systemd/)
#   make lint       clang-format check, cppcheck, banned functions
#   make backup-check  backupd's object stores against s3rver and Azurite
#   make fuzz       every libFuzzer target in tests/fuzz/ for FUZZ_SECONDS each
#   make fuzz-seed  regenerate the seed corpus with the real encoders

PREFIX ?= /usr/local
DESTDIR ?=
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BUILD ?= build

CC ?= cc
# libcurl: shared/httpc.c (vipd's cloud moves, heartbeatd's etcd, backupd's
# object stores).
PKGS := libzmq libsodium libsystemd yaml-0.1 jansson libcurl
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
# The version is the Debian changelog's, so a binary and its package agree.
SKYHA_VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
BASE_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -DSKYHA_VERSION='"$(SKYHA_VERSION)"'
CFLAGS ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Every folder with a main.c is a program: heartbeatd/ -> build/heartbeatd,
# ctl/ -> build/skyctl. A folder may add pkg-config packages in its build.mk
# (PKGS += fuse3) and Debian packages in its deps.txt (read by tools/deps.sh).
-include $(wildcard */build.mk)

SHARED_SRC := $(wildcard shared/*.c)
# Lab tools outside the daemons' layout (not installed, not packaged):
# tools/wanem/, the WAN emulator of the sky lab (docs/wan.md).
WANEM_SRC := $(wildcard tools/wanem/*.c)
PROGRAM_DIRS := $(sort $(patsubst %/main.c,%,$(wildcard */main.c)))
program_name = $(if $(filter ctl,$(1)),skyctl,$(1))
PROGRAMS := $(foreach d,$(PROGRAM_DIRS),$(BUILD)/$(call program_name,$(d)))
LIB_SRC := $(filter-out %/main.c,$(foreach d,$(PROGRAM_DIRS),$(wildcard $(d)/*.c)) $(WANEM_SRC))
HEADERS := $(wildcard shared/*.h */*.h tools/wanem/*.h)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/asan/%,$(wildcard tests/unit/*_test.c))
INCLUDES := -Ishared $(addprefix -I,$(PROGRAM_DIRS)) -Itools/wanem -Itests/unit

.PHONY: all deps deps-bench check unit backup-check cluster units-verify systemd soak demo demo-farm bench install man deb lint clean \
	fuzz fuzz-build fuzz-seed

# docs/man/<name>.<section>.md -> build/man/<name>.<section> (tools/man.py)
MAN_PAGES := $(patsubst docs/man/%.md,$(BUILD)/man/%,$(wildcard docs/man/*.?.md))

all: $(PROGRAMS) $(BUILD)/wanem

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ishared -I$(firstword $(subst /, ,$<)) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/asan/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC+SAN  $<"
	@$(CC) $(BASE_CFLAGS) -O1 -g $(SAN) $(INCLUDES) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/libskyha.a: $(SHARED_SRC:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	@$(AR) rcs $@ $^

# One link rule per program folder.
define program_rule
$(BUILD)/$(call program_name,$(1)): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(1)/*.c)) $(BUILD)/libskyha.a
	@echo "  LD      $$@"
	@$$(CC) $$(CFLAGS) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach d,$(PROGRAM_DIRS),$(eval $(call program_rule,$(d))))

$(BUILD)/wanem: $(patsubst %.c,$(BUILD)/obj/%.o,$(WANEM_SRC)) $(BUILD)/libskyha.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# Each unit test links the sanitized shared library and the daemon files it
# tests (everything but main.c), so pure logic is driven directly.
ASAN_LIB_OBJ := $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(SHARED_SRC) $(LIB_SRC))
$(BUILD)/asan/%_test: $(BUILD)/asan/obj/tests/unit/%_test.o $(ASAN_LIB_OBJ)
	@echo "  LD+SAN  $@"
	@$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

# The object-store campaign (tests/backup/run.py, docs/backup.md): linked like
# a unit test, run against real servers, so not part of `make unit`.
$(BUILD)/asan/bkstore_test: $(BUILD)/asan/obj/tests/backup/store_test.o $(ASAN_LIB_OBJ)
	@echo "  LD+SAN  $@"
	@$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

# backup-check: that campaign with s3rver and Azurite (npm, tools/npm) at full
# size (1100 objects listed in pages of 1000: ~90 s); make check runs it
# with --short (60 objects in pages of 25: the same paths, ~45 s).
backup-check: $(BUILD)/asan/bkstore_test
	@/usr/bin/python3 tests/backup/run.py

# Fuzzing (tests/fuzz/README.md): every tests/fuzz/<name>_fuzz.c is one
# libFuzzer target, build/fuzz/<name>, linked with the daemons' real code
# built again by clang into build/fuzz/obj (apart from the gcc objects).
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wno-format-nonliteral -D_GNU_SOURCE -O1 -g $(FUZZ_SAN)
FUZZ_TARGETS := $(patsubst tests/fuzz/%_fuzz.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/*_fuzz.c))
FUZZ_LIB_OBJ := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(SHARED_SRC) $(LIB_SRC))

$(BUILD)/fuzz/obj/%.o: %.c $(HEADERS) tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	@echo "  CC+FUZZ $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(INCLUDES) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/libskyha-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	@$(AR) rcs $@ $^

$(BUILD)/fuzz/%: $(BUILD)/fuzz/obj/tests/fuzz/%_fuzz.o $(BUILD)/fuzz/libskyha-fuzz.a
	@echo "  LD+FUZZ $@"
	@$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

fuzz-build: $(FUZZ_TARGETS)

fuzz: fuzz-build
	@tests/fuzz/run.sh --long $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The seeds: valid inputs made by the real encoders (gcc, like a unit test):
# seed.c and one tests/fuzz/seed_<family>.c per family of targets (seed.h).
SEED_OBJ := $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(wildcard tests/fuzz/seed*.c))
$(SEED_OBJ): tests/fuzz/seed.h
$(BUILD)/asan/fuzz_seed: $(SEED_OBJ) $(ASAN_LIB_OBJ)
	@echo "  LD+SAN  $@"
	@$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

fuzz-seed: $(BUILD)/asan/fuzz_seed
	@$(BUILD)/asan/fuzz_seed tests/fuzz/corpus

deps:
	@tools/deps.sh test

deps-bench:
	@tools/deps.sh bench

unit: $(UNIT_TESTS)
	@tests/unit/run.sh $(UNIT_TESTS)

units-verify:
	@tests/units/verify.sh

cluster: all
	@/usr/bin/python3 tests/cluster/run.py

# soak: the fault campaign (docs/soak.md): SOAK_FAULTS random faults on the whole
# stack within SOAK_MINUTES, seed SOAK_SEED (random unless given; printed to replay),
# then every cluster test at its full size (run.py --long: more rounds, more files,
# longer pauses, and the @long_only tests make check leaves out for time).
SOAK_FAULTS ?= 200
SOAK_MINUTES ?= 30
SOAK_SEED ?=
soak: all
	@/usr/bin/python3 tests/soak/soak.py --faults $(SOAK_FAULTS) \
		--minutes $(SOAK_MINUTES) $(if $(SOAK_SEED),--seed $(SOAK_SEED))
	@/usr/bin/python3 tests/cluster/run.py --long

systemd: all deb
	@/usr/bin/python3 tests/systemd/run.py

# check: everything a submission must pass; the last line sums every suite.
check: deps
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(BUILD)/asan/bkstore_test fuzz-build deb
	@tests/run-all.sh $(UNIT_TESTS)

demo: deps all
	@/usr/bin/python3 tests/lab/demo.py

# A farm module: three nodes behind HAProxy, one lost and back.
demo-farm: deps all
	@/usr/bin/python3 tests/lab/demo_farm.py

# Every bench/<name>.py is one benchmark (names starting with _ are shared
# code); each prints its figures as ratios to a baseline measured in the same
# run. All run, then make fails if any did.
BENCHES := $(filter-out bench/_%,$(wildcard bench/*.py))
bench: deps-bench all
	@failed=""; for b in $(BENCHES); do \
		echo "=== $$b"; /usr/bin/python3 $$b || failed="$$failed $$b"; \
	done; [ -z "$$failed" ] || { echo "make bench: failed:$$failed"; exit 1; }

$(BUILD)/man/%: docs/man/%.md tools/man.py
	@mkdir -p $(dir $@)
	@/usr/bin/python3 tools/man.py $< $@

man: $(MAN_PAGES)

install: all man
	install -d $(DESTDIR)$(PREFIX)/lib/skyha $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/skyctl $(DESTDIR)$(PREFIX)/bin/skyctl
	for p in $(filter-out $(BUILD)/skyctl,$(PROGRAMS)); do \
		install -m 0755 $$p $(DESTDIR)$(PREFIX)/lib/skyha/; done
	for u in units/*.service units/*.target units/*.socket units/*.timer units/*.path; do \
		[ -e "$$u" ] || continue; \
		sed 's|@LIBEXECDIR@|$(PREFIX)/lib/skyha|g; s|@BINDIR@|$(PREFIX)/bin|g' "$$u" \
			> $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	done
	for m in $(MAN_PAGES); do \
		install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/$$(basename $$m); done
	install -D -m 0644 completion/skyctl.bash $(DESTDIR)$(COMPLETIONDIR)/skyctl
	install -D -m 0644 units/skyha.sysusers $(DESTDIR)$(SYSUSERSDIR)/skyha.conf
	@[ -n "$(DESTDIR)" ] || ! command -v systemd-sysusers >/dev/null || \
		systemd-sysusers $(SYSUSERSDIR)/skyha.conf

# The package is built from the tracked files (as a fresh clone has them) in
# build/deb/src, so dpkg-buildpackage writes its output in build/deb/.
DEB_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
deb:
	@rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	@git ls-files -z | xargs -0 tar -cf - | tar -xf - -C $(BUILD)/deb/src
	@cd $(BUILD)/deb/src && dpkg-buildpackage -us -uc -b -j2 >../build.log 2>&1 || \
		{ tail -30 ../build.log; echo "make deb: dpkg-buildpackage failed (build/deb/build.log)"; exit 1; }
	@lintian --fail-on error $(BUILD)/deb/skyha_$(DEB_VERSION)_amd64.deb
	@echo "  DEB     $(BUILD)/deb/skyha_$(DEB_VERSION)_amd64.deb"

lint:
	@tools/lint.sh

clean:
	rm -rf $(BUILD)

.SECONDARY:
