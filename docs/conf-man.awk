# conf-man.awk -- write abstractcore.conf(5) from its template and the key
# tables of configuration.md, so the man page says what the guide says.
#
#   awk -f conf-man.awk configuration.md abstractcore.conf.5.in > abstractcore.conf.5
#
# configuration.md: every table whose header is "| key | type | default |
# meaning |" is read, in order, with the "## " heading above it.  The
# template: a line ".\" @TABLE n@" is replaced by table n (1, 2, ...) as
# .TP entries:
#     .TP
#     \fBkey\fR (type; default: ...)
#     meaning
# Markdown in the cells becomes roff: `code` and **bold** bold, *words*
# italic, [text](link) the text.  tests/test_strict.c checks that every
# key of core/keys.c is in the result with its exact type.

# Backslashes and the characters roff reads as requests.
function esc(s) {
    gsub(/\\/, "\\e", s)
    return s
}

# Text outside code spans: links, bold, italics.
function inline(s,    out, pre, m) {
    s = esc(s)
    # [text](target) -> text
    while (match(s, /\[[^]]*\]\([^)]*\)/)) {
        m = substr(s, RSTART, RLENGTH)
        sub(/\]\(.*$/, "", m)
        s = substr(s, 1, RSTART - 1) substr(m, 2) substr(s, RSTART + RLENGTH)
    }
    out = ""
    while (match(s, /\*\*[^*]+\*\*/)) {
        pre = substr(s, 1, RSTART - 1)
        out = out pre "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR"
        s = substr(s, RSTART + RLENGTH)
    }
    s = out s
    out = ""
    while (match(s, /\*[A-Za-z][^*]*\*/)) {
        pre = substr(s, 1, RSTART - 1)
        out = out pre "\\fI" substr(s, RSTART + 1, RLENGTH - 2) "\\fR"
        s = substr(s, RSTART + RLENGTH)
    }
    return out s
}

# A cell: code spans bold, the rest through inline().
function cell(s,    n, parts, i, out) {
    gsub(/^ +| +$/, "", s)
    n = split(s, parts, "`")
    out = ""
    for (i = 1; i <= n; i++)
        out = out (i % 2 ? inline(parts[i]) : "\\fB" esc(parts[i]) "\\fR")
    return out
}

# configuration.md
FNR == NR {
    if ($0 ~ /^## /) {
        heading = $0
        sub(/^## +/, "", heading)
        gsub(/`/, "", heading)
        next
    }
    if ($0 ~ /^\| key \| type \| default \| meaning \|/) {
        ntables++
        title[ntables] = heading
        rows[ntables] = 0
        intable = 1
        next
    }
    if (intable && $0 ~ /^\|---/)
        next
    if (intable && $0 ~ /^\|/) {
        n = split($0, c, "|")
        r = ++rows[ntables]
        key[ntables, r] = c[2]
        type[ntables, r] = c[3]
        dflt[ntables, r] = c[4]
        meaning[ntables, r] = c[5]
        next
    }
    intable = 0
    next
}

# The template
/^\.\\" @TABLE [0-9]+@$/ {
    t = $0
    gsub(/[^0-9]/, "", t)
    if (!(t in rows)) {
        print "conf-man.awk: configuration.md has no key table " t > "/dev/stderr"
        exit 1
    }
    for (r = 1; r <= rows[t]; r++) {
        k = key[t, r]
        gsub(/[` ]/, "", k)
        ty = type[t, r]
        gsub(/^ +| +$/, "", ty)
        d = cell(dflt[t, r])
        print ".TP"
        print "\\fB" esc(k) "\\fR (" esc(ty) (d != "" ? "; default: " d : "") ")"
        m = cell(meaning[t, r])
        if (m ~ /^[.']/)
            m = "\\&" m
        print m
    }
    used[t] = 1
    next
}

{ print }

END {
    for (t = 1; t <= ntables; t++)
        if (!(t in used)) {
            print "conf-man.awk: key table " t " (" title[t] ") is not in the template" > "/dev/stderr"
            exit 1
        }
}
