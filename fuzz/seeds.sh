#!/bin/sh
# seeds.sh SRCDIR OUTDIR [TARGETS] -- build the fuzz targets' seed corpora
# under OUTDIR/<target>/ (run by `make fuzz`, OUTDIR fuzz/out/seeds of
# the build folder; only this script and the few hand-written seeds in
# fuzz/seeds/<target>/ are committed).
#
# Each target's input starts with the bytes its fuzz/<target>.c header
# describes; a seed is a prefix plus a file:
#   framer        every .sse and .ndjson of tests/fixtures, whole and in pieces
#   parse_<p>     the plugin's fixtures: bodies, error bodies, streams, model lists
#   replay_<p>    the same as the engine sees them (framing, status, pieces)
#   config        conf/abstractcore.conf and the mock server's scripts
#                 (libconfig syntax), lines naming "plugin" removed
#   session       fuzz/seeds/session/ (hand-written saved sessions)
#   schema        every test of the JSON Schema test suite (draft 7, 6, 4),
#                 schema NUL instance, from the json-schema-test-suite
#                 Debian package (python3 reads it)
#   toolparse     fuzz/seeds/toolparse/ (one reply per syntax), per family
#   reply         JSON fixtures, and the toolparse replies
set -eu
src=$1
out=$2
targets=${3:-}
fix="$src/tests/fixtures"
SUITE=${JSON_SCHEMA_TEST_SUITE:-/usr/share/json-schema-test-suite}

want() {
    [ -z "$targets" ] && return 0
    case " $targets " in *" $1 "*) return 0 ;; esac
    return 1
}

# seed DIR NAME PREFIX-OCTAL FILE: DIR/NAME = the bytes of the printf
# format PREFIX, then FILE.
seed() {
    mkdir -p "$1"
    { printf "$3"; cat "$4"; } >"$1/$2"
}

# The fixtures a plugin's codec reads (not requests, notes or headers).
plugin_fixtures() {
    case $1 in
    openai | lmstudio | huggingface | mlx) pat='openai_* lmstudio_* hf_* tgi_* llamacpp_*' ;;
    anthropic) pat='anthropic_*' ;;
    ollama) pat='ollama_*' ;;
    esac
    for p in $pat; do
        for f in "$fix"/$p; do
            case $f in
            *'*'* | *.source.txt | *.request.json | *.headers.json | *.pretty.txt) continue ;;
            esac
            [ -f "$f" ] && echo "$f"
        done
    done
}

# The status an error fixture stands for (its name says, else 500).
status_of() {
    s=$(basename "$1" | sed -n 's/.*error_\([0-9][0-9][0-9]\).*/\1/p')
    echo "${s:-500}"
}

# replay: bits 3-7 of byte 0 index this table (fuzz/replay.c).
replay_index() {
    i=0
    for s in 400 401 403 404 408 409 413 422 429 500 502 503 504 529 418 599; do
        [ "$s" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo 9
}

oct() { printf '\\%03o' "$1"; }

if want framer; then
    d="$out/framer"; rm -rf "$d"
    for f in "$fix"/*.sse "$fix"/sse_edge_cases/*.sse; do
        b=$(basename "$f")
        seed "$d" "$b" '\000\000' "$f"
        seed "$d" "$b.p7" '\000\007' "$f"
        seed "$d" "$b.max64" '\002\003' "$f"
    done
    for f in "$fix"/*.ndjson; do
        b=$(basename "$f")
        seed "$d" "$b" '\001\000' "$f"
        seed "$d" "$b.p5" '\001\005' "$f"
    done
fi

for p in openai anthropic ollama lmstudio huggingface mlx; do
    want "parse_$p" || want "replay_$p" || continue
    pd="$out/parse_$p"; rd="$out/replay_$p"
    rm -rf "$pd" "$rd"
    for f in $(plugin_fixtures $p); do
        b=$(basename "$f")
        case $b in
        *.sse | *.ndjson)
            fr=1; case $b in *.ndjson) fr=2 ;; esac
            seed "$pd" "$b" '\002\000' "$f"
            seed "$rd" "$b" "$(oct $fr)\\000" "$f"
            seed "$rd" "$b.p9" "$(oct $fr)\\011" "$f"
            ;;
        *tags* | *models*)
            seed "$pd" "$b" '\003\000' "$f"
            seed "$rd" "$b" '\000\000' "$f"
            ;;
        *error*)
            st=$(status_of "$f")
            seed "$pd" "$b" "\\001$(oct $((st - 400)))" "$f"
            seed "$rd" "$b" "$(oct $((4 + $(replay_index "$st") * 8)))\\000" "$f"
            ;;
        *)
            seed "$pd" "$b" '\000\000' "$f"
            seed "$rd" "$b" '\000\000' "$f"
            ;;
        esac
    done
done

if want config; then
    d="$out/config"; rm -rf "$d"; mkdir -p "$d"
    for f in "$src/conf/abstractcore.conf" "$src"/sdk/mock/scripts/*.conf; do
        [ -f "$f" ] || continue
        grep -v -e plugin -e @ "$f" >"$d/$(basename "$f")" || true
    done
    cp "$src"/fuzz/seeds/config/* "$d/" 2>/dev/null || true
fi

if want session; then
    d="$out/session"; rm -rf "$d"; mkdir -p "$d"
    cp "$src"/fuzz/seeds/session/* "$d/"
fi

if want schema; then
    d="$out/schema"; rm -rf "$d"; mkdir -p "$d"
    if [ -d "$SUITE/tests" ] && command -v python3 >/dev/null 2>&1; then
        python3 - "$SUITE/tests" "$d" <<'EOF'
import json, os, sys
tests, out = sys.argv[1], sys.argv[2]
n = 0
for draft in ("draft7", "draft6", "draft4"):
    base = os.path.join(tests, draft)
    for root, _, files in os.walk(base):
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(root, name), encoding="utf-8") as f:
                groups = json.load(f)
            for g, group in enumerate(groups):
                schema = json.dumps(group["schema"]).encode()
                for t, test in enumerate(group["tests"]):
                    data = json.dumps(test["data"]).encode()
                    path = os.path.join(out, "%s-%s-%d-%d" % (draft, name[:-5], g, t))
                    with open(path, "wb") as w:
                        w.write(schema + b"\0" + data)
                    n += 1
print("schema: %d seeds from the JSON Schema test suite" % n)
EOF
    else
        echo "schema: no $SUITE/tests or no python3: seeds from the fixtures only" >&2
    fi
    for f in "$fix"/*.json; do
        case $f in *.source.txt) continue ;; esac
        cp "$f" "$d/fixture-$(basename "$f")"
    done
fi

if want toolparse; then
    d="$out/toolparse"; rm -rf "$d"; mkdir -p "$d"
    for f in "$src"/fuzz/seeds/toolparse/*; do
        b=$(basename "$f")
        # Every family (byte 0), whole and in pieces of 3 (byte 1).
        for fam in 0 1 2 3 4 5 6; do
            seed "$d" "$b.f$fam" "$(oct $fam)\\000" "$f"
        done
        seed "$d" "$b.p3" '\000\003' "$f"
    done
fi

if want reply; then
    d="$out/reply"; rm -rf "$d"; mkdir -p "$d"
    for f in "$fix"/*.json "$src"/fuzz/seeds/toolparse/* "$src"/fuzz/seeds/reply/*; do
        case $f in *.source.txt) continue ;; esac
        [ -f "$f" ] || continue
        seed "$d" "$(basename "$f")" '\003' "$f"
    done
fi
