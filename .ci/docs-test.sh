#!/usr/bin/env bash
# The guides' commands, run against a fresh server built from this tree.
#
# For each guide (docs/mobile.md, docs/operations.md): a fresh server on a
# free port, in a fresh directory (its working directory, so `data/` lands
# there) on the embedded SQLite default, with only the settings below (a
# DATABASE_URL or PAINLINE_* of the caller's shell cannot leak in). Every
# fenced block marked ```sh, in order, runs as one bash script
# (`set -euo pipefail`) in that directory, with `PAINLINE` set to the
# server's base URL, `painline` on PATH, and `127.0.0.1:8080` or
# `localhost:8080` in a block replaced by the server's address. Blocks
# marked ```sh-host (they need root, systemd, a proxy or PostgreSQL) and
# every other block are only read. The first block that fails stops its
# guide: its number, its line in the .md and its first line are printed,
# with what it printed and the tail of the server's log.
#
#   bash .ci/docs-test.sh                          # every guide
#   DOCS_ONLY=mobile bash .ci/docs-test.sh         # docs/mobile.md only
#   PAINLINE_BIN=/path/to/painline bash .ci/docs-test.sh   # that binary, no cargo build
#   DOCS_LIST=1 bash .ci/docs-test.sh              # list the blocks, run nothing
#   DOCS_VERBOSE=1 bash .ci/docs-test.sh           # show every block's output
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
guides=(mobile operations)
only=${DOCS_ONLY:-}

if [ -n "$only" ]; then
    only=${only%.md}
    only=${only#docs/}
    [ -f "docs/$only.md" ] || { echo "docs-test: no docs/$only.md" >&2; exit 2; }
    guides=("$only")
fi
for tool in curl jq python3; do
    command -v "$tool" >/dev/null || { echo "docs-test: $tool is needed" >&2; exit 2; }
done

# The settings a guide assumes of its server beyond the defaults: none
# today (the guides describe the defaults, therapist sign-up closed among
# them). One per line, NAME=value, by guide.
server_settings() {
    case $1 in
        *) ;;
    esac
}

# Prints the guide's ```sh blocks as one script; `$2` gets one line per
# block: "number<TAB>line<TAB>first line". A block is fenced by three or
# more backticks (or tildes) whose info string is exactly `sh`, indented
# up to three spaces (a block in a list item); the fence closes it.
extract() {
    awk -v index_file="$2" -v map_file="$4" '
        function emit(text, md_line) {
            print text
            printf "%d\n", md_line > map_file
        }
        function flush_header() {
            emit("", start)
            emit(sprintf("__docs_block %d %d", n, start), start)
        }
        BEGIN { inside = 0; n = 0 }
        {
            line = $0
            if (!inside) {
                if (match(line, /^ ? ? ?(```+|~~~+)/)) {
                    indent = line; sub(/[`~].*$/, "", indent)
                    fence = substr(line, length(indent) + 1)
                    info = fence; sub(/^(`+|~+)/, "", info)
                    fence = substr(fence, 1, length(fence) - length(info))
                    gsub(/^[ \t]+|[ \t]+$/, "", info)
                    inside = 1; kind = info; start = NR; first = ""
                    if (kind == "sh") {
                        n++
                        flush_header()
                    }
                }
                next
            }
            stripped = line; sub(/^[ \t]+/, "", stripped)
            if (index(stripped, substr(fence, 1, 1)) == 1) {
                close_run = stripped; gsub(/[ \t]+$/, "", close_run)
                if (close_run ~ /^(`+|~+)$/ && length(close_run) >= length(fence) \
                    && substr(close_run, 1, 1) == substr(fence, 1, 1)) {
                    if (kind == "sh") {
                        printf "%d\t%d\t%s\n", n, start, first > index_file
                    }
                    inside = 0
                    next
                }
            }
            if (kind != "sh") next
            body = line
            if (length(indent) > 0 && substr(body, 1, length(indent)) == indent)
                body = substr(body, length(indent) + 1)
            if (first == "" && body !~ /^[ \t]*$/) first = body
            emit(body, NR)
        }
        END {
            if (inside) { printf "docs-test: a fence opened on line %d is never closed\n", start > "/dev/stderr"; exit 1 }
        }
    ' "$1"
}

if [ -n "${PAINLINE_BIN:-}" ]; then
    bin=$(cd "$(dirname "$PAINLINE_BIN")" && pwd)/$(basename "$PAINLINE_BIN")
    [ -x "$bin" ] || { echo "docs-test: PAINLINE_BIN=$PAINLINE_BIN is not an executable" >&2; exit 2; }
elif [ -z "${DOCS_LIST:-}" ]; then
    cargo build --quiet
    bin=$root/target/debug/painline
fi

work=$(mktemp -d)
server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
}
finish() {
    stop_server
    rm -rf "$work"
}
trap finish EXIT
mkdir -p "$work/bin"
[ -z "${bin:-}" ] || ln -s "$bin" "$work/bin/painline"

# A fresh server in `$1` (its working directory), on a free port.
start_server() {
    local dir=$1 guide=$2 setting
    local -a extra=()
    for setting in $(server_settings "$guide"); do extra+=("$setting"); done
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    (cd "$dir" && exec env -i PATH="$work/bin:$PATH" HOME="$dir" \
        PAINLINE_BIND="127.0.0.1:$port" PAINLINE_PUBLIC_URL="http://127.0.0.1:$port" \
        PAINLINE_LOG=info PAINLINE_SIGNUPS_PER_HOUR=100000 ${extra[@]+"${extra[@]}"} \
        painline serve 2>>"$dir/server.log") &
    server_pid=$!
    for _ in $(seq 1 600); do
        if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/readyz" 2>/dev/null; then
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "docs-test: the server for docs/$guide.md did not become ready" >&2
    tail -n 40 "$dir/server.log" >&2
    return 1
}

failed=()
for guide in "${guides[@]}"; do
    md=docs/$guide.md
    dir=$work/$guide
    mkdir -p "$dir"
    index=$dir/blocks.tsv
    : >"$index"
    extract "$md" "$index" "$guide" "$dir/lines" >"$dir/blocks.sh"
    count=$(wc -l <"$index")
    host=$(grep -cE '^ {0,3}(```+|~~~+)[ \t]*sh-host[ \t]*$' "$md" || true)
    if [ -n "${DOCS_LIST:-}" ]; then
        echo "== $md: $count sh blocks ($host sh-host blocks, read only)"
        awk -F'\t' '{ printf "  %s:%s  line %s  %s\n", guide, $1, $2, $3 }' guide="$guide" "$index"
        continue
    fi
    echo "== $md: $count sh blocks, $host sh-host blocks read only"
    [ "$count" -gt 0 ] || { echo "docs-test: $md has no sh block" >&2; failed+=("$md"); continue; }
    start_server "$dir" "$guide" || { failed+=("$md"); stop_server; continue; }
    state=$dir/block
    # Five lines before the blocks' own (the line map counts on it); the
    # ERR trap names the command that failed and its line in the script.
    {
        echo 'set -euo pipefail'
        echo "PAINLINE=http://127.0.0.1:$port; export PAINLINE"
        echo "__docs_block() { printf '%s\n' \"\$1\" >'$state'; printf '\n##docs-block %s\n' \"\$1\"; }"
        echo "trap 'printf \"%s\\t%s\\n\" \"\$LINENO\" \"\$BASH_COMMAND\" >\"$dir/err\"' ERR"
        echo
        sed -e "s#127\\.0\\.0\\.1:8080#127.0.0.1:$port#g" -e "s#localhost:8080#127.0.0.1:$port#g" "$dir/blocks.sh"
    } >"$dir/script.sh"
    # The script sees only what a reader's shell would need.
    set +e
    if [ -n "${DOCS_VERBOSE:-}" ]; then
        (cd "$dir" && env -i PATH="$work/bin:$PATH" HOME="$dir" LANG=C.UTF-8 TMPDIR="${TMPDIR:-/tmp}" \
            timeout 900 bash script.sh) 2>&1 | tee "$dir/output.log"
        status=${PIPESTATUS[0]}
    else
        (cd "$dir" && env -i PATH="$work/bin:$PATH" HOME="$dir" LANG=C.UTF-8 TMPDIR="${TMPDIR:-/tmp}" \
            timeout 900 bash script.sh) >"$dir/output.log" 2>&1
        status=$?
    fi
    set -e
    stop_server
    if [ "$status" -eq 0 ]; then
        echo "   passed: $count blocks ran"
        continue
    fi
    failed+=("$md")
    block=$(cat "$state" 2>/dev/null || echo "?")
    where=$(awk -F'\t' -v n="${block%% *}" '$1 == n { printf "line %s: %s", $2, $3 }' "$index")
    echo "docs-test: $md block ${block%% *} of $count failed (exit $status), $where" >&2
    if [ -s "$dir/err" ]; then
        IFS=$'\t' read -r script_line command <"$dir/err" || true
        md_line=$(sed -n "$((script_line - 5))p" "$dir/lines")
        echo "   the command that failed, $md line ${md_line:-?}: $command" >&2
    fi
    [ "$status" -ne 124 ] || echo "   (timed out)" >&2
    echo "-- what the block printed" >&2
    awk '/^##docs-block /{ buf = ""; next } { buf = buf $0 "\n" } END { printf "%s", buf }' "$dir/output.log" | tail -n 40 >&2
    echo "-- the server's log (last 20 lines)" >&2
    tail -n 20 "$dir/server.log" >&2
done

[ -z "${DOCS_LIST:-}" ] || exit 0
if [ "${#failed[@]}" -gt 0 ]; then
    echo "docs-test: failed: ${failed[*]}" >&2
    exit 1
fi
echo "docs-test: every guide's commands ran"
