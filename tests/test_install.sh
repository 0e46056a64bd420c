#!/bin/sh
# test_install.sh -- the tree installed the ways a packager and a user
# install it (make check).
#
# In a build folder of its own (the one make check runs in is left
# alone), from the sources a release tarball would hold (`make distdir`
# of this build: a source tree configured in place cannot serve another
# build folder, and a packager builds from the tarball anyway):
#   1. configure --prefix=P1, then `make install DESTDIR=STAGE` straight
#      away, from a tree never built: everything lands under STAGE/P1;
#   2. configure --prefix=P2 in that same, built, folder and `make
#      install`: what has the install folders baked in is rebuilt (the
#      library's plugin and config folders, every libtool rpath), so the
#      plugins install and the library looks in P2, not in P1;
#   3. a user's build of an installed example with pkg-config, run against
#      the installed acore-mockd and plugins, found through the folders
#      baked into the library alone;
#   4. the installed acore in demo mode (no configuration, a bare PATH):
#      it finds the installed acore-mockd and plugins; the sample
#      configuration is installed as .sample and does not count; a
#      system-wide file in P2's sysconfdir is read, and skipped with
#      ABSTRACTCORE_CONFIG_NOSYSTEM.
# One full build (without llama.cpp and the tests) and one partial
# rebuild: about a minute on two cores.  Nothing talks to anything but
# 127.0.0.1.
#
# Exit status: 0 all passed, 1 a check failed, 99 the test could not run.

set -u

top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd) || exit 99
top_srcdir=${top_srcdir:-$top_builddir}
top_srcdir=$(cd "$top_srcdir" && pwd) || exit 99
ME=test_install
. "$(dirname "$0")/mockd.sh"

[ -x "$top_srcdir/configure" ] || hard_error "no configure script in $top_srcdir"
mockd_begin acore-install
# The nested make is a make of its own, not a part of this one.
unset MAKEFLAGS MFLAGS MAKELEVEL DESTDIR
MAKE=${MAKE:-make}
case $MAKE in *" "*) MAKE=make ;; esac

rc=0
: >"$tmp/out"
: >"$tmp/err"
src="$tmp/src"
build="$tmp/build"
P1="$tmp/p1"
P2="$tmp/p2"
STAGE="$tmp/stage"
mkdir -p "$build"

# step CMD...: run CMD in the build folder with its output in
# $tmp/step.log; a failure here is a hard error (nothing after it can run).
step() {
    echo "# $*"
    (cd "$build" && "$@") >"$tmp/step.log" 2>&1 ||
        { tail -n 30 "$tmp/step.log"; hard_error "failed: $*"; }
}

CONFIGURE_FLAGS="-q --disable-tests --without-llama"

echo "# $MAKE distdir distdir=$src"
"$MAKE" -C "$top_builddir" distdir distdir="$src" >"$tmp/step.log" 2>&1 ||
    { tail -n 30 "$tmp/step.log"; hard_error "make distdir failed"; }

# ---------------------------------------------------------------------
# 1. A packager's DESTDIR install from a fresh tree
# ---------------------------------------------------------------------

step "$src/configure" $CONFIGURE_FLAGS --prefix="$P1"
step "$MAKE" -j2 install DESTDIR="$STAGE"
S="$STAGE$P1"
missing=
for f in bin/acore bin/acore-mockd bin/acore-provider-check bin/acore-serve lib/libabstractcore.so \
         lib/abstractcore/plugins/openai.so lib/pkgconfig/abstractcore.pc \
         include/abstractcore/abstractcore.h \
         etc/abstractcore/abstractcore.conf.sample \
         share/man/man1/acore.1 share/man/man1/acore-mockd.1 share/man/man1/acore-serve.1 \
         share/man/man3/abstractcore.3 \
         share/man/man5/abstractcore.conf.5 \
         share/bash-completion/completions/acore share/zsh/site-functions/_acore \
         share/doc/abstractcore/examples/sync.c share/doc/abstractcore/examples/Makefile \
         share/doc/abstractcore/configuration.md; do
    [ -e "$S/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ] && [ ! -e "$P1" ]; then
    pass "make install DESTDIR= from an unbuilt tree puts everything under DESTDIR"
else fail "DESTDIR install: missing$missing"; fi
if [ ! -e "$S/etc/abstractcore/abstractcore.conf" ]; then
    pass "the sample configuration is installed as abstractcore.conf.sample only"
else fail "an abstractcore.conf was installed"; fi

# ---------------------------------------------------------------------
# 2. The same folder configured for another prefix, installed for real
# ---------------------------------------------------------------------

step "$src/configure" $CONFIGURE_FLAGS --prefix="$P2"
step "$MAKE" -j2 install
if [ -f "$P2/lib/abstractcore/plugins/openai.so" ] && [ -x "$P2/bin/acore" ]; then
    pass "after reconfiguring for another prefix, make install installs the plugins"
else fail "install after a new prefix"; fi
if grep -q "$P2/lib/abstractcore/plugins" "$P2/lib/libabstractcore.so" &&
   grep -q "$P2/etc" "$P2/lib/libabstractcore.so" &&
   ! grep -q "$P1/" "$P2/lib/libabstractcore.so" "$P2/bin/acore" \
        "$P2/lib/abstractcore/plugins/openai.so" 2>/dev/null; then
    pass "the library has the new folders baked in, and nothing of the old prefix"
else fail "old paths left in the installed files"; fi

# ---------------------------------------------------------------------
# 3. An installed example, built with pkg-config, against acore-mockd
# ---------------------------------------------------------------------

MOCKD="$P2/bin/acore-mockd"
cat >"$tmp/script.conf" <<'EOF'
reply = "Hello from the installed mock.";
EOF
mockd_start
cat >"$tmp/user.conf" <<EOF
abstractcore = { default_provider = "mock"; };
providers = ( { name = "mock"; plugin = "openai"; base_url = "$url/v1"; api_key = "x";
                default_model = "m"; max_retries = 0; } );
EOF
cp -R "$P2/share/doc/abstractcore/examples" "$tmp/ex"
chmod -R u+w "$tmp/ex"
if (cd "$tmp/ex" && PKG_CONFIG_PATH="$P2/lib/pkgconfig" "$MAKE" sync) >"$tmp/out" 2>"$tmp/err"; then
    pass "an installed example builds with pkg-config"
else rc=$?; fail "building the example"; fi
RUN_DIR="$tmp/ex"
run 20 env LD_LIBRARY_PATH="$P2/lib" ./sync -c "$tmp/user.conf" "Say hello"
RUN_DIR=.
if [ $rc -eq 0 ] && out_is "Hello from the installed mock."; then
    pass "it runs against acore-mockd through the installed openai plugin"
else fail "running the example"; fi

# ---------------------------------------------------------------------
# 4. The installed acore: demo mode, the system-wide file
# ---------------------------------------------------------------------

BARE="PATH=/usr/bin:/bin HOME=$tmp/home XDG_CONFIG_HOME=$tmp/xdg"
run 20 env -i $BARE "$P2/bin/acore" "Say hi"
if [ $rc -eq 0 ] && [ -s "$tmp/out" ] &&
   err_has '^acore: no backend configured; using the bundled mock server at http://127\.0\.0\.1:'; then
    pass "after make install, acore without a configuration runs the installed acore-mockd"
else fail "installed demo mode"; fi

run 20 env -i $BARE "$P2/bin/acore" config check
if [ $rc -eq 0 ] && out_has "no configuration file (looked for $tmp/xdg/abstractcore/abstractcore.conf and $P2/etc/abstractcore/abstractcore.conf); nothing to check"; then
    pass "config check names the installed system-wide file it looked for"
else fail "installed config check"; fi

mkdir -p "$P2/etc/abstractcore"
cp "$tmp/user.conf" "$P2/etc/abstractcore/abstractcore.conf"
run 20 env -i $BARE "$P2/bin/acore" "Say hello"
if [ $rc -eq 0 ] && out_is "Hello from the installed mock." && err_empty; then
    pass "a system-wide file in the installed sysconfdir is read"
else fail "system-wide file"; fi
run 20 env -i $BARE ABSTRACTCORE_CONFIG_NOSYSTEM=1 "$P2/bin/acore" plugins
if [ $rc -eq 0 ] && out_has '^config: (none' && out_has "from $P2/lib/abstractcore/plugins/openai.so"; then
    pass "ABSTRACTCORE_CONFIG_NOSYSTEM skips it; the plugins come from the installed folder"
else fail "ABSTRACTCORE_CONFIG_NOSYSTEM"; fi

mockd_summary
