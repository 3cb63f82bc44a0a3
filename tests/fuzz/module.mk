# Fuzzing the stream reader and page applier (libFuzzer, clang).
#   make fuzz [FUZZ_TIME=60]  builds build/fuzz/fuzz_stream, seeds its corpus
#   from a valid stream (gen_seeds), checks that stream with
#   ferry-stream-verify (whole, and the same memory digest), fuzzes for FUZZ_TIME seconds, and copies any
#   crashing input to tests/fuzz/corpus-regress/ (replayed by
#   tests/unit/migrate/test_stream.c) and fails.

FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_DIR   := $(BUILD)/fuzz
FUZZ_CFLAGS := -std=gnu11 -g -O1 $(WARN) -D_GNU_SOURCE -I. -I$(BUILD) \
	       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRCS  := tests/fuzz/fuzz_stream.c migrate/stream.c migrate/pages.c

$(FUZZ_DIR)/fuzz_stream: $(FUZZ_SRCS) tests/fuzz/harness.h migrate/stream.h \
			 migrate/pages.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ-CC $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS) -llz4

$(FUZZ_DIR)/gen_seeds: $(BUILD)/obj/tests/fuzz/gen_seeds.o $(MIGRATE_OBJS) \
		       $(BUILD)/libhv.a $(BUILD)/libproto.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

fuzz: $(FUZZ_DIR)/fuzz_stream $(FUZZ_DIR)/gen_seeds \
      $(BUILD)/ferry-stream-verify
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/crashes \
		tests/fuzz/corpus-regress
	$(Q)want=$$($(FUZZ_DIR)/gen_seeds $(FUZZ_DIR)/corpus \
		$(FUZZ_DIR)/sample.ferry) && \
	got=$$($(BUILD)/ferry-stream-verify $(FUZZ_DIR)/sample.ferry \
		--quiet --digest) && echo "$$got" && \
	case "$$got" in *"$$want "*) ;; *) echo "fuzz: sample digest" \
		"differs from the generator's ($$want)"; exit 1;; esac
	$(Q)rm -f $(FUZZ_DIR)/crashes/*
	$(Q)$(FUZZ_DIR)/fuzz_stream -max_total_time=$(FUZZ_TIME) \
		-max_len=16384 -timeout=10 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/crashes/ \
		$(FUZZ_DIR)/corpus tests/fuzz/corpus-regress; rc=$$?; \
	for f in $(FUZZ_DIR)/crashes/*; do \
		[ -e "$$f" ] || continue; \
		cp "$$f" tests/fuzz/corpus-regress/; \
		echo "fuzz: crashing input saved as" \
			"tests/fuzz/corpus-regress/$${f##*/}"; rc=1; \
	done; exit $$rc

.PHONY: fuzz
