# fuzz.mk -- builds the libFuzzer binaries (GNU make; run by `make fuzz`,
# see fuzz/Makefile.inc, which passes the variables below from the
# automake build, so the source lists are the build's own).
#
#   srcdir       the source tree (absolute)
#   FUZZ_CC      clang with libFuzzer (configure checked it)
#   FUZZ_CFLAGS  extra flags (user's; default -g -O1)
#   DEP_CFLAGS   DEP_LIBS  json-c, libcurl, libconfig, PCRE2, libmagic,
#                          poppler-glib, libvips
#   CORE_SRCS    SDK_SRCS  the core's and the SDK's sources
#   PLUGINS      the bundled plugins; PLUGIN_SRCS_<name> their sources
#
# Everything is compiled again with clang, with coverage for libFuzzer
# (-fsanitize=fuzzer-no-link), AddressSanitizer (LeakSanitizer on) and
# UndefinedBehaviorSanitizer (-fno-sanitize-recover: UB is a crash), into
# fuzz/out/ of the build folder:
#   fuzz/out/bin/<target>            framer config session schema toolparse reply
#   fuzz/out/bin/parse_<plugin>      the plugin's parsers through the fake host
#   fuzz/out/bin/replay_<plugin>     ac__replay_bytes with the plugin
#   fuzz/out/plugins/<plugin>.so     the plugins, instrumented the same way
# The core is built with a plugin folder that does not exist, so a core a
# target opens loads only the plugin it names by absolute path.

# No built-in rules: they would try to remake the included .d files
# (from "%: %.o" and the harness rule below).
MAKEFLAGS  += --no-builtin-rules
.SUFFIXES:

OUT        := fuzz/out
FUZZ_CFLAGS ?= -g -O1
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -pthread -fPIC $(SAN) -fsanitize=fuzzer-no-link \
              -I$(OUT)/include \
              -I$(srcdir)/core/include -I$(srcdir)/sdk/include -I$(srcdir)/core -I$(srcdir)/fuzz \
              $(WARN_CFLAGS) -Wno-format-zero-length $(DEP_CFLAGS) $(FUZZ_CFLAGS)

SIMPLE_TARGETS := framer config session schema toolparse reply
PLUGIN_TARGETS := parse replay
BINS := $(addprefix $(OUT)/bin/,$(SIMPLE_TARGETS) \
          $(foreach t,$(PLUGIN_TARGETS),$(addprefix $(t)_,$(PLUGINS))))
SOS  := $(foreach p,$(PLUGINS),$(OUT)/plugins/$(p).so)

obj = $(patsubst %.c,$(OUT)/obj/%.o,$(filter %.c,$(1)))
CORE_OBJS := $(call obj,$(CORE_SRCS))
SDK_OBJS  := $(call obj,$(SDK_SRCS))
UTIL_OBJS := $(call obj,fuzz/fuzzutil.c)
PLUGINDIR := $(abspath $(OUT)/plugins)

all: $(BINS) $(SOS)
.PHONY: all

# The fuzz build's own ac_paths.h (the build's is made from configure's
# folders): folders that do not exist, so nothing installed is read.
$(OUT)/include/ac_paths.h:
	@mkdir -p $(@D)
	@{ echo '/* ac_paths.h for the fuzz build (fuzz/fuzz.mk): folders that do not exist. */'; \
	  echo '#define AC_PREFIX "/nonexistent/abstractcore-fuzz"'; \
	  echo '#define AC_BINDIR "/nonexistent/abstractcore-fuzz/bin"'; \
	  echo '#define AC_LIBDIR "/nonexistent/abstractcore-fuzz/lib"'; \
	  echo '#define AC_SYSCONFDIR "/nonexistent/abstractcore-fuzz"'; \
	  echo '#define AC_PLUGINSDIR "/nonexistent/abstractcore-fuzz/plugins"'; \
	  echo '#define AC_DATADIR "/nonexistent/abstractcore-fuzz/share"'; } >$@

$(OUT)/obj/%.o: $(srcdir)/%.c | $(OUT)/include/ac_paths.h
	@mkdir -p $(@D)
	@echo "  FUZZCC   $*.c"
	@$(FUZZ_CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The harness, once per binary: which target, which plugin.
$(OUT)/obj/main/%.o: $(srcdir)/fuzz/main.c
	@mkdir -p $(@D)
	@echo "  FUZZCC   main for $*"
	@$(FUZZ_CC) $(ALL_CFLAGS) -MMD -MP -DFUZZ_PLUGINDIR='"$(PLUGINDIR)"' \
	  -DFUZZ_TARGET=$(firstword $(subst _, ,$*)) \
	  $(if $(findstring _,$*),-DFUZZ_PLUGIN=$(word 2,$(subst _, ,$*))) -c $< -o $@

LINK = @echo "  FUZZLD   $@"; mkdir -p $(@D); \
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(SAN) -fsanitize=fuzzer -pthread -o $@ $^ $(DEP_LIBS)

# $(1): target name, $(2): binary name
define fuzz_bin
$(OUT)/bin/$(2): $(OUT)/obj/main/$(2).o $(call obj,fuzz/$(1).c) $(UTIL_OBJS) $(CORE_OBJS) $(SDK_OBJS)
	$$(LINK)
endef
$(foreach t,$(SIMPLE_TARGETS),$(eval $(call fuzz_bin,$(t),$(t))))
$(foreach t,$(PLUGIN_TARGETS),$(foreach p,$(PLUGINS),$(eval $(call fuzz_bin,$(t),$(t)_$(p)))))

# A plugin exports only its entry point, as the real build's does.
$(OUT)/plugin.map:
	@mkdir -p $(@D)
	@printf '{ global: ac_provider_entry; local: *; };\n' >$@

define fuzz_so
$(OUT)/plugins/$(1).so: $(call obj,$(PLUGIN_SRCS_$(1))) $(SDK_OBJS) $(OUT)/plugin.map
	@echo "  FUZZLD   $$@"; mkdir -p $$(@D)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(SAN) -fsanitize=fuzzer-no-link -shared -pthread \
	  -Wl,--version-script=$(OUT)/plugin.map -o $$@ $$(filter %.o,$$^) $(DEP_LIBS)
endef
$(foreach p,$(PLUGINS),$(eval $(call fuzz_so,$(p))))

# The compilers' dependency lists; never remade by a rule.
$(OUT)/obj/%.d: ;
-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)
