#!/bin/sh
# test_manpages.sh -- the man pages say what the code has (make check).
#
#   abstractcore(3): names every function of abstractcore.h, and nothing
#     that is not one;
#   acore(1): documents every option `acore --help` lists and every
#     command of `acore help commands`;
#   every page (abstractcore.conf(5) as generated) formats without a
#     warning, when groff is there.
# abstractcore.conf(5) against core/keys.c is in test_strict.c.
#
# Exit status: 0 all passed, 1 a check failed, 99 the test could not run.

set -u

top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd) || exit 99
top_srcdir=${top_srcdir:-$top_builddir}
top_srcdir=$(cd "$top_srcdir" && pwd) || exit 99
HEADER="$top_srcdir/core/include/abstractcore/abstractcore.h"
MAN3="$top_srcdir/docs/abstractcore.3"
MAN1="$top_srcdir/docs/acore.1"
ACORE="$top_builddir/cli/acore"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acore-man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }

# The functions: "ac_name(" at a declaration, not a type in a typedef.
grep -o '\bac_[a-z0-9_]*[ ]*(' "$HEADER" | sed 's/[ (]*$//' | sort -u |
    grep -v '^ac_status$' >"$tmp/functions"
[ -s "$tmp/functions" ] || { echo "no functions found in $HEADER"; exit 99; }
# Named in the page's FUNCTIONS section: .B/.BR lines and \fB...\fR.
sed -n '/^\.SH FUNCTIONS/,/^\.SH EXAMPLE/p' "$MAN3" >"$tmp/section"
sed -n 's/^\.BR* \(ac_[a-z0-9_]*\).*/\1/p' "$tmp/section" >"$tmp/named"
grep -o 'fBac_[a-z0-9_]*' "$tmp/section" | sed 's/^fB//' >>"$tmp/named"
sort -u "$tmp/named" -o "$tmp/named"
missing=$(comm -23 "$tmp/functions" "$tmp/named" | tr '\n' ' ')
extra=$(comm -13 "$tmp/functions" "$tmp/named" | tr '\n' ' ')
if [ -z "$missing" ]; then
    pass "abstractcore(3) names all $(wc -l <"$tmp/functions" | tr -d ' ') functions of abstractcore.h"
else fail "abstractcore(3) does not name: $missing"; fi
if [ -z "$extra" ]; then
    pass "abstractcore(3) names no function the header lacks"
else fail "abstractcore(3) names what abstractcore.h lacks: $extra"; fi

# acore(1): every long option of --help, every command.
"$ACORE" --help | grep -o -- '--[a-z][a-z-]*' | sort -u >"$tmp/options"
[ "$(wc -l <"$tmp/options")" -ge 10 ] || { echo "acore --help lists no options"; exit 99; }
missing=
while read -r opt; do
    roff=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
    grep -q -- "$roff" "$MAN1" || missing="$missing $opt"
done <"$tmp/options"
if [ -z "$missing" ]; then
    pass "acore(1) documents every option of acore --help"
else fail "acore(1) lacks:$missing"; fi
commands=$("$ACORE" help commands)
[ -n "$commands" ] || { echo "acore help commands lists nothing"; exit 99; }
missing=
for cmd in $commands; do
    grep -q "^\.BR\? $cmd\b" "$MAN1" || missing="$missing $cmd"
done
if [ -z "$missing" ]; then
    pass "acore(1) documents every command"
else fail "acore(1) lacks the commands:$missing"; fi

# Formatting: no groff warning.
if command -v groff >/dev/null 2>&1; then
    for page in "$top_srcdir/docs/acore.1" "$top_srcdir/docs/acore-mockd.1" \
                "$top_srcdir/docs/acore-provider-check.1" "$top_srcdir/docs/acore-serve.1" "$MAN3" \
                "$top_builddir/docs/abstractcore.conf.5"; do
        if [ ! -f "$page" ]; then
            fail "$page is missing"
            continue
        fi
        warn=$(LC_ALL=C groff -man -ww -z -Tutf8 "$page" 2>&1)
        if [ -z "$warn" ]; then
            pass "$(basename "$page") formats without a warning"
        else fail "$(basename "$page"): $warn"; fi
    done
else
    echo "SKIP: groff is not installed: the pages were not formatted"
fi

# A request run into the line before it (".BR \-v ..SH DEMO MODE")
# formats without a warning, as text: the section is lost.
for page in "$top_srcdir"/docs/*.1 "$MAN3" "$top_srcdir/docs/abstractcore.conf.5.in"; do
    joined=$(grep -nE '.[^[:space:]]\.(SH|SS|TP|PP|RS|RE|IP|nf|fi)( |$)' "$page" | head -3)
    if [ -z "$joined" ]; then
        pass "$(basename "$page"): every request on a line of its own"
    else fail "$(basename "$page"): a request inside a line: $joined"; fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
