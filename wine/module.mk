# wine/: the saved-state dump API (issue 6) outside core/: the QEMU fixtures
# its tests use, its fuzzers, and vmsavedstatedumpprovider.dll, the Wine
# builtin that lets Windows programs use the API under wine.

# Fixtures: made by QEMU when it is installed (a few seconds), else unpacked
# from the copies in tests/fixtures/. Tests find them through WM_DUMP_FIXTURES.
DUMP_FIXTURES      := $(BUILD)/fixtures
DUMP_FIXTURE_STAMP := $(DUMP_FIXTURES)/.stamp
$(DUMP_FIXTURE_STAMP): tools/make-dump-fixtures.sh tools/fixtures/dumpfix.py tools/fixtures/lm16.S | $(DEPS_STAMP)
	@mkdir -p $(DUMP_FIXTURES)
	@if command -v qemu-system-x86_64 >/dev/null 2>&1; then \
		./tools/make-dump-fixtures.sh $(DUMP_FIXTURES) >/dev/null || exit 1; \
	else echo "qemu-system-x86_64 not installed: using tests/fixtures/ copies"; fi
	@for f in tests/fixtures/*; do b=$$(basename $$f .xz); \
		[ -f $(DUMP_FIXTURES)/$$b ] && continue; \
		case $$f in *.xz) xz -dc $$f > $(DUMP_FIXTURES)/$$b;; *) cp $$f $(DUMP_FIXTURES)/$$b;; esac; done
	@touch $@
.PHONY: dump-fixtures
dump-fixtures: $(DUMP_FIXTURE_STAMP)

# The unit tests and the client program read the fixtures.
check-unit: $(DUMP_FIXTURE_STAMP)
check-wine-tests-native: $(DUMP_FIXTURE_STAMP)
check-e2e: $(DUMP_FIXTURE_STAMP)
UNIT_EXTRA_LIBS_test_savedstate_oracle := -lkdumpfile

-include wine/vmsavedstatedumpprovider/module.mk
