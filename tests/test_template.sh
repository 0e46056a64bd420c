#!/bin/sh
# test_template.sh -- the plugin author's kit, used as a third party uses
# it (make check):
#
#   1. acore-provider-check passes every bundled plugin (embeddings
#      included, for those that have them; llamacpp on the tiny test
#      model, when libllama was found);
#   2. the template plugin (sdk/template) passes its own unit tests and
#      the checker with its fixture file;
#   3. the template built against the frozen ABI 2.0 headers
#      (tests/abi/2.0) loads in this core and passes the checker, and
#      the checker refuses wrong ABI 2.1 settings lists;
#   4. the checker names each mistake of tests/plugins/sloppy.c, and a
#      plugin that logs its key still shows it to no one;
#   5. the SDK installed with DESTDIR builds the installed copy of the
#      template out of tree with nothing but pkg-config, and its `make
#      check` (unit tests, then the installed checker) passes.
#
# Every backend is the mock server on 127.0.0.1, started by the checker.
# Ends with one line "N passed, N failed".  Exit status: 0 all passed, 1 a
# check failed, 99 the test could not run.

set -u

top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd) || exit 99
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
top_srcdir=$(cd "$top_srcdir" && pwd) || exit 99
ME=test_template
. "$(dirname "$0")/mockd.sh"

CHECK="$top_builddir/sdk/check/acore-provider-check"
TPL="$top_srcdir/sdk/template"
TPLUG="$top_builddir/tests/plugins/.libs"
[ -x "$CHECK" ] || hard_error "$CHECK is not built"
[ -f "$TPLUG/acme.so" ] || hard_error "$TPLUG/acme.so is not built (make check builds it)"
mockd_begin acore-template
# Files this test makes must not be writable by others: the loader would
# refuse them (rightly).
umask 022

# The checker's verdict: exit 0, "N passed, 0 failed", no FAIL line.
checked_ok() {
    [ "$rc" -eq 0 ] && out_has '^[0-9]* passed, 0 failed$' && ! out_has '^FAIL'
}

# ---------------------------------------------------------------------
# 1. Every bundled plugin, in the protocol the mock speaks for it.
for p in openai anthropic ollama lmstudio huggingface mlx; do
    run 300 "$CHECK" "$top_builddir/plugins/$p/.libs/$p.so"
    case $p in
    openai) settings='organization project' ;;
    anthropic) settings='anthropic_version anthropic_beta structured_output max_tokens' ;;
    ollama) settings='keep_alive think num_ctx' ;;
    huggingface) settings='embed_api' ;;
    *) settings="none beyond the core's" ;;
    esac
    # Embeddings: played by the mock for every plugin that has them.
    case $p in
    anthropic|mlx) embeds='^SKIP embeddings: no embeddings$' ;;
    *) embeds='^PASS embeddings$' ;;
    esac
    if checked_ok && out_has "^plugin: $p " && out_has '^PASS split$' &&
        out_has "^settings: $settings\$" && out_has "$embeds" &&
        out_has '^PASS concurrent$' && out_has '^PASS log$'; then
        pass "acore-provider-check $p"
    else
        fail "acore-provider-check $p"
    fi
done

# ---------------------------------------------------------------------
# 1b. The llamacpp plugin (in process, no HTTP), when configure found
#     libllama: the checker's local scenarios on the tiny test model.
LLAMACPP="$top_builddir/plugins/llamacpp/.libs/llamacpp.so"
TINY="$top_builddir/tests/llama/tiny.gguf"
if [ -f "$LLAMACPP" ] && [ -f "$TINY" ]; then
    run 300 "$CHECK" -m tiny -s "model_path=\"$TINY\"" -s n_threads=1 -s n_ctx=2048 "$LLAMACPP"
    if checked_ok && out_has '^plugin: llamacpp ' && out_has '^protocol: in-process' &&
        out_has '^settings: model_path n_ctx n_threads n_batch n_gpu_layers n_parallel chat_template top_k embed_pooling embed_normalize$' &&
        out_has '^PASS init$' && out_has '^PASS stream$' && out_has '^PASS cancel$' &&
        out_has '^PASS concurrent$' && out_has '^PASS models$' && out_has '^PASS log$' &&
        out_has '^PASS embed_unit$' && out_has '^PASS embeddings$'; then
        pass "acore-provider-check llamacpp"
    else
        fail "acore-provider-check llamacpp"
    fi
elif [ -f "$LLAMACPP" ]; then
    echo "SKIP: acore-provider-check llamacpp: no test model $TINY"
else
    echo "SKIP: acore-provider-check llamacpp: ${LLAMA_WHY:-the plugin is not built}"
fi

# ---------------------------------------------------------------------
# 2. The template: its unit tests, then the checker.
run 60 "$top_builddir/tests/test_acme" "$TPLUG/acme.so" "$TPL/tests"
if [ "$rc" -eq 0 ] && out_has '^[1-9][0-9]* passed, 0 failed$'; then
    pass "the template's unit tests"
else
    fail "the template's unit tests"
fi
run 300 "$CHECK" --fixtures "$TPL/acme.check" "$TPLUG/acme.so"
if checked_ok && out_has '^protocol: its own' && out_has '^PASS error_429.2$' &&
    out_has "^settings: none beyond the core's\$" &&
    out_has '^PASS utf8_stream$' && out_has '^SKIP tools: features has no AC_FEATURE_TOOLS$'; then
    pass "acore-provider-check --fixtures acme.check acme.so"
else
    fail "acore-provider-check --fixtures acme.check acme.so"
fi

# ---------------------------------------------------------------------
# 3. Built against the ABI 2.0 headers as they were frozen, run by this
#    core.
run 300 "$CHECK" --fixtures "$TPL/acme.check" "$TPLUG/acme20.so"
if checked_ok && out_has '^plugin: acme 1.0.0, ABI 2.0 ' && out_has '^settings: not declared'; then
    pass "the template built against the frozen ABI 2.0 headers"
else
    fail "the template built against the frozen ABI 2.0 headers"
fi

# ---------------------------------------------------------------------
# 3b. ABI 2.1 settings lists that break the rules (tests/plugins/badsettings.c).
badsettings() { # N TEXT
    run 300 "$CHECK" "$TPLUG/badsettings$1.so"
    if [ "$rc" -eq 1 ] && out_has "^FAIL descriptor: $2"; then
        pass "the checker refuses settings list $1"
    else
        fail "the checker refuses settings list $1 (FAIL descriptor: $2)"
    fi
}
badsettings 1 'settings\[1\] "timeout_ms" is one of the core'"'"'s settings'
badsettings 2 'settings\[0\] "Base URL" is not a setting name'
badsettings 3 'settings\[0\] "a_setting_name_far_too_long.*" is not a setting name'

# ---------------------------------------------------------------------
# 4. Mistakes, each named by the rule it breaks.
sloppy() { # BUG SCENARIO TEXT
    run 300 "$CHECK" --fixtures "$TPL/acme.check" --set "bug=\"$1\"" "$TPLUG/sloppy.so"
    if [ "$rc" -eq 1 ] && out_has "^FAIL $2: .*$3" && out_has '^[0-9]* passed, [1-9][0-9]* failed$'
    then
        pass "the checker names the mistake $1"
    else
        fail "the checker names the mistake $1 (FAIL $2: ...$3...)"
    fi
}
sloppy init_leak init 'init then fini left 1 blocks allocated'
sloppy oom_silent build_request 'failed (AC_ENOMEM.*) without host->fail'
sloppy drop_parts parts 'a part of an unknown type (99) was dropped'
sloppy no_finish parse 'a whole stream gave 0 finishes'
sloppy error_ignored stream_error 'does not quote the server'"'"'s "the model crashed"'
sloppy always_retry error_400 'retryable is 1; a caller may not retry it'
sloppy no_quote error_500 'does not quote the server'"'"'s "internal error"'

run 300 "$CHECK" --fixtures "$TPL/acme.check" "$TPLUG/sloppy.so"
if checked_ok; then
    pass "the same plugin without a mistake passes"
else
    fail "the same plugin without a mistake passes"
fi
run 300 "$CHECK" -v --only log --fixtures "$TPL/acme.check" --set 'bug="log_key"' \
    "$TPLUG/sloppy.so"
if checked_ok && out_has '^PASS log$' && err_has 'using key \[redacted\]'; then
    pass "a key the plugin logs is scrubbed by the core"
else
    fail "a key the plugin logs is scrubbed by the core"
fi

# ---------------------------------------------------------------------
# 5. The installed SDK, out of tree.  The build tree is installed under
#    $tmp/dest; a .pc file whose prefix points there stands for an SDK
#    installed under that prefix.
DEST="$tmp/dest"
# Not the jobserver of the make that runs this test.
( unset MAKEFLAGS MFLAGS MAKELEVEL
  cd "$top_builddir" && make install DESTDIR="$DEST" ) >"$tmp/install.log" 2>&1 ||
    hard_error "make install DESTDIR=... failed: $(tail -5 "$tmp/install.log")"
prefix=$(sed -n 's/^prefix=//p' "$top_builddir/abstractcore-provider.pc")
mkdir -p "$tmp/pc"
for pc in abstractcore abstractcore-provider; do
    sed "s|^prefix=.*|prefix=$DEST$prefix|" "$top_builddir/$pc.pc" >"$tmp/pc/$pc.pc"
done
installed_tpl=$(find "$DEST" -path '*/template/acme.c' | head -1)
if [ -n "$installed_tpl" ] && [ -f "$(dirname "$installed_tpl")/acme.check" ] &&
    [ -f "$(dirname "$installed_tpl")/tests/test_acme.c" ] &&
    [ -x "$DEST$prefix/bin/acore-provider-check" ] &&
    [ -f "$DEST$prefix/include/abstractcore/testkit.h" ]; then
    pass "the SDK installs its headers, the checker and the template"
else
    rc=1
    fail "the SDK installs its headers, the checker and the template"
fi
if [ -n "$installed_tpl" ]; then
    cp -R "$(dirname "$installed_tpl")" "$tmp/acme"
    RUN_DIR="$tmp/acme"
    # With the build's CFLAGS: a sanitizer build installs an instrumented
    # SDK library, which only an instrumented link accepts.
    run 300 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PKG_CONFIG_PATH="$tmp/pc" \
        PATH="$DEST$prefix/bin:$PATH" LD_LIBRARY_PATH="$DEST$prefix/lib" \
        make check CFLAGS="${AC_BUILD_CFLAGS:--O2 -g}"
    if [ "$rc" -eq 0 ] && [ -f "$tmp/acme/acme.so" ] && out_has '^[0-9]* passed, 0 failed$' &&
        out_has "^acore-provider-check .*: $tmp/acme/acme.so$" &&
        out_has '^PASS concurrent$'; then
        pass "the installed template builds out of tree and passes its make check"
    else
        fail "the installed template builds out of tree and passes its make check"
    fi
    RUN_DIR=.
fi

mockd_summary
