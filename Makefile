# libtransformer -- GNU make build.
#
#   make                 static and shared library, the tfm tool (in $(BUILD)/)
#   make test            build and run the whole test suite
#   make demo            build and run the demo
#   make asan / ubsan    the test suite under AddressSanitizer / UBSan
#   make tsan            the unit tests under ThreadSanitizer
#   make install PREFIX=/usr/local DESTDIR=
#   make THREADS=0       build without pthreads (serial, same API)
#   make cross-aarch64   cross-build for aarch64 and run the tests under qemu
#   make bench           benchmarks (see docs/PERFORMANCE.md)
#
# Variables: CC, BUILD (output folder, default build), THREADS, OPT, EXTRA_CFLAGS,
# EXTRA_LDFLAGS.

CC      ?= cc
BUILD   ?= build
THREADS ?= 1
OPT     ?= -O2
PREFIX  ?= /usr/local
DESTDIR ?=

# The header is the single source of truth for the version.
VMAJOR := $(shell sed -n 's/^\#define TFM_VERSION_MAJOR \([0-9]*\)/\1/p' include/transformer.h)
VMINOR := $(shell sed -n 's/^\#define TFM_VERSION_MINOR \([0-9]*\)/\1/p' include/transformer.h)
VPATCH := $(shell sed -n 's/^\#define TFM_VERSION_PATCH \([0-9]*\)/\1/p' include/transformer.h)
VERSION := $(VMAJOR).$(VMINOR).$(VPATCH)

MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
ifneq (,$(findstring x86_64,$(MACHINE)))
  ARCH := x86_64
else ifneq (,$(findstring aarch64,$(MACHINE)))
  ARCH := aarch64
else
  ARCH := other
endif

WARN    := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS_BASE := -std=c99 $(OPT) -g -fPIC -fvisibility=hidden $(WARN) -Iinclude -DTFM_BUILD
LDLIBS  := -lm

ifeq ($(THREADS),0)
  CFLAGS_BASE += -DTFM_NO_THREADS
else
  CFLAGS_BASE += -pthread
  LDLIBS += -pthread
endif

CFLAGS_ALL := $(CFLAGS_BASE) $(EXTRA_CFLAGS)
LDFLAGS_ALL := $(EXTRA_LDFLAGS)

# ---- sources ------------------------------------------------------------------
LIB_SRC := $(wildcard src/core/*.c src/ops/*.c src/io/*.c src/nn/*.c src/text/*.c \
                      src/models/*.c src/kernels/*.c src/kernels/ref/*.c)

# Per-ISA kernel folders, each compiled with its own flags; the rest of the
# library is baseline for the target, so one binary runs on any CPU of it.
ISA_SRC :=
ifeq ($(ARCH),x86_64)
  AVX2_SRC   := $(wildcard src/kernels/avx2/*.c)
  AVX512_SRC := $(wildcard src/kernels/avx512/*.c)
  ISA_SRC    += $(AVX2_SRC) $(AVX512_SRC)
  ifneq ($(AVX2_SRC),)
    CFLAGS_ALL += -DTFM_HAVE_AVX2
  endif
  ifneq ($(AVX512_SRC),)
    CFLAGS_ALL += -DTFM_HAVE_AVX512
  endif
endif
ifeq ($(ARCH),aarch64)
  NEON_SRC := $(wildcard src/kernels/neon/*.c)
  ISA_SRC  += $(NEON_SRC)
  ifneq ($(NEON_SRC),)
    CFLAGS_ALL += -DTFM_HAVE_NEON
  endif
endif
FLAGS_AVX2   := -mavx2 -mfma -mf16c
FLAGS_AVX512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c
FLAGS_NEON   :=

LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC) $(ISA_SRC))
HEADERS := $(wildcard include/*.h src/*/*.h src/kernels/*/*.h)

STATIC  := $(BUILD)/libtransformer.a
SHARED  := $(BUILD)/libtransformer.so.$(VERSION)
SONAME  := libtransformer.so.$(VMAJOR)
TFM     := $(BUILD)/tfm

TOOL_SRC := $(wildcard tools/*.c)
TEST_SRC := $(wildcard tests/unit/*.c tests/kernels/*.c tests/golden/*.c)
TEST_BIN := $(BUILD)/tests/unit
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRC))
BENCH_SRC := $(wildcard bench/*.c)
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all lib test demo asan ubsan tsan install clean cross-aarch64 bench examples tests
all: lib $(TFM) examples

lib: $(STATIC) $(BUILD)/libtransformer.so

# Files of int8 dot-product kernels add that extension (run only where
# cpuid has it).
$(BUILD)/obj/src/kernels/avx2/%_vnni.o: src/kernels/avx2/%_vnni.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(FLAGS_AVX2) -mavxvnni -c $< -o $@
$(BUILD)/obj/src/kernels/avx512/%_vnni.o: src/kernels/avx512/%_vnni.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(FLAGS_AVX512) -mavx512vnni -c $< -o $@
$(BUILD)/obj/src/kernels/avx512/%_amx.o: src/kernels/avx512/%_amx.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(FLAGS_AVX512) -mavx512vnni -mamx-tile -mamx-int8 -c $< -o $@
$(BUILD)/obj/src/kernels/neon/%_dot.o: src/kernels/neon/%_dot.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(FLAGS_NEON) -march=armv8.2-a+dotprod -c $< -o $@
$(BUILD)/obj/src/kernels/avx2/%.o: src/kernels/avx2/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(FLAGS_AVX2) -c $< -o $@
$(BUILD)/obj/src/kernels/avx512/%.o: src/kernels/avx512/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(FLAGS_AVX512) -c $< -o $@
$(BUILD)/obj/src/kernels/neon/%.o: src/kernels/neon/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(FLAGS_NEON) -c $< -o $@
$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

$(BUILD)/libtransformer.so: $(SHARED)
	ln -sf libtransformer.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

# Programs link the static library so they run from the build folder as is.
PROG_CFLAGS := $(filter-out -fvisibility=hidden -DTFM_BUILD,$(CFLAGS_ALL))

$(TFM): $(TOOL_SRC) $(STATIC) $(HEADERS)
	$(CC) $(PROG_CFLAGS) -o $@ $(TOOL_SRC) $(STATIC) $(LDFLAGS_ALL) $(LDLIBS)

examples: $(EXAMPLES)
$(BUILD)/examples/%: examples/%.c $(STATIC) include/transformer.h
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -o $@ $< $(STATIC) $(LDFLAGS_ALL) $(LDLIBS)

bench: $(BENCHES)
	bash bench/run.sh $(BUILD)
$(BUILD)/bench/%: bench/%.c $(STATIC) $(HEADERS) $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -Isrc -o $@ $< $(STATIC) $(LDFLAGS_ALL) $(LDLIBS)

# ---- tests ---------------------------------------------------------------------
# Every `TEST(name)` in the test sources is registered by this generated list.
$(BUILD)/tests/registry.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	@grep -ho '^TEST([a-z0-9_]*)' $(TEST_SRC) /dev/null | sed 's/^TEST(\(.*\))/X(\1)/' > $@.tmp
	@mv $@.tmp $@

$(TEST_BIN): $(TEST_SRC) tests/harness.c tests/harness.h $(BUILD)/tests/registry.h $(STATIC) $(HEADERS)
	$(CC) $(PROG_CFLAGS) -Wno-missing-prototypes -Isrc -Itests -I$(BUILD)/tests -o $@ \
	    tests/harness.c $(TEST_SRC) $(STATIC) $(LDFLAGS_ALL) $(LDLIBS)

tests: all $(TEST_BIN)

test: tests
	@TFM_EXTRA_LDFLAGS="$(EXTRA_LDFLAGS)" bash tests/run.sh $(BUILD)

demo: all
	@bash examples/demo.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address -fno-omit-frame-pointer" \
	  EXTRA_LDFLAGS="-fsanitize=address" test

ubsan:
	$(MAKE) BUILD=build-ubsan OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=undefined -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=undefined" test

# ThreadSanitizer: the unit tests on the default kernels (the pool, 4 threads
# sharing models), without the fork tests (TSan cannot start threads in a
# child of a threaded process) and the timing checks of linear encoders.
tsan:
	$(MAKE) BUILD=build-tsan OPT=-O1 EXTRA_CFLAGS="-fsanitize=thread" \
	  EXTRA_LDFLAGS="-fsanitize=thread" build-tsan/tests/unit
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/tests/unit \
	  --exclude=threads_fork --exclude=_is_fast

# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang, ASan and UBSan,
# each run FUZZ_TIME seconds (FUZZ_RUNS executions when set) on a scratch
# corpus seeded from tests/fuzz/corpus/<target>/ and the seeds
# tests/fuzz/seeds.py makes from tests/golden. Crashes land in
# $(FUZZ_BUILD)/; one target: make fuzz FUZZ_TARGETS=bpe.
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME ?= 60
FUZZ_RUNS ?= -1
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
.PHONY: fuzz
fuzz:
	$(MAKE) CC=clang BUILD=$(FUZZ_BUILD) OPT=-O1 \
	  EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_BUILD)/libtransformer.a
	rm -rf $(FUZZ_BUILD)/seeds && python3 tests/fuzz/seeds.py $(FUZZ_BUILD)/seeds
	@for t in $(FUZZ_TARGETS); do \
	  clang -std=c99 -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer -Iinclude -Isrc -Itests \
	    -o $(FUZZ_BUILD)/fuzz_$$t tests/fuzz/fuzz_$$t.c $(FUZZ_BUILD)/libtransformer.a \
	    -lm -pthread || exit 1; \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$t; dirs=""; \
	  for d in tests/fuzz/corpus/$$t $(FUZZ_BUILD)/seeds/$$t; do [ -d $$d ] && dirs="$$dirs $$d"; done; \
	  len=65536; [ $$t = folder ] && len=262144; \
	  echo "== fuzz_$$t for $(FUZZ_TIME) s"; \
	  $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_TIME) -runs=$(FUZZ_RUNS) -max_len=$$len \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus-$$t \
	    $$dirs || exit 1; \
	done

AARCH64_BUILD ?= build-aarch64
cross-aarch64:
	$(MAKE) CC=aarch64-linux-gnu-gcc BUILD=$(AARCH64_BUILD) lib $(AARCH64_BUILD)/tests/unit
	TFM_TEST_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu" \
	  bash tests/run.sh $(AARCH64_BUILD) --unit-only

# ---- install ---------------------------------------------------------------------
install: lib $(TFM)
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/transformer.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libtransformer.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libtransformer.so
	install -m 755 $(TFM) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(LDLIBS)|' libtransformer.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libtransformer.pc

clean:
	rm -rf build build-asan build-ubsan build-aarch64 build-nothreads build-clang
