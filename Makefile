# Reelvox — build. `make` builds bin/; `make asan` the sanitizer build in
# build/asan/bin/; `make run`, `make test`, `make bench` are the front doors.

VARIANT ?= release
FUZZ_CC ?= clang-14
PKGS    := libpq json-c libcurl libjwt libsodium espeak-ng libavformat libavcodec libavfilter libswresample libavutil libswscale
CC      ?= cc
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wno-missing-field-initializers
CFLAGS  := -std=c17 -D_GNU_SOURCE -Icommon $(WARN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := -lfcgi -lunistring $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

ifeq ($(VARIANT),asan)
  OUT     := build/asan
  BINDIR  := build/asan/bin
  CFLAGS  += -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
else ifeq ($(VARIANT),fuzz)
  # libFuzzer targets (tests/fuzz): the library under clang, instrumented for
  # coverage and the sanitizers; the targets link libFuzzer's main.
  CC      := $(FUZZ_CC)
  OUT     := build/fuzz
  BINDIR  := build/fuzz/bin
  CFLAGS  += -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
             -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=fuzzer,address,undefined
else
  OUT     := build/release
  BINDIR  := bin
  CFLAGS  += -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
  LDFLAGS += -Wl,-z,relro,-z,now
endif

LIB_SRC  := $(wildcard common/*.c common/*/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(OUT)/%.o)
LIB      := $(OUT)/librv.a
HANDLERS := $(wildcard handlers/*.c)
BINS     := $(HANDLERS:handlers/%.c=$(BINDIR)/%)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOLS    := $(TOOL_SRC:tests/tools/%.c=$(OUT)/tests/tools/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

.PHONY: all asan units fuzzers fuzz run test bench chaos fmt fmt-check lint clean
.SECONDARY:
all: $(BINS) $(UNITS) $(TOOLS)

asan:
	@$(MAKE) --no-print-directory VARIANT=asan all

units: $(UNITS)

$(OUT)/%.o: %.c $(wildcard common/*.h common/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@$(AR) rcs $@ $^

$(BINDIR)/%: $(OUT)/handlers/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(OUT)/tests/%: $(OUT)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

# Test helpers that drive common/ from the command line (not endpoints, not tests).
$(OUT)/tests/tools/%: $(OUT)/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# libFuzzer targets, built with clang into build/fuzz/ (VARIANT=fuzz).
fuzzers:
	@$(MAKE) --no-print-directory VARIANT=fuzz $(FUZZERS)

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(LIB)
	@echo "  LD  $@"
	@$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

build/fuzz/tests/fuzz/%.o: tests/fuzz/%.c tests/fuzz/fuzz.h $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

# Each target FUZZ_SECONDS (default 60) on its corpus; scripts/fuzz says more.
fuzz: fuzzers
	@scripts/fuzz

run:
	@scripts/run

test:
	@scripts/test

bench:
	@scripts/bench

chaos: all
	@scripts/chaos

fmt:
	clang-format -i common/*.[ch] common/*/*.[ch] handlers/*.c tests/unit/*.[ch] tests/tools/*.c \
	  tests/fuzz/*.[ch]

# cppcheck, clang-tidy (.clang-tidy), STYLE.md's banned functions, clang-format.
lint:
	@scripts/lint

fmt-check:
	@scripts/lint format

clean:
	rm -rf build bin
