#!/usr/bin/env bash
# check-cycles.sh - fail when source files call each other in a circle.
#
# The rooms of the tree are layered (bench: cli -> commands -> sweep ->
# runner -> timer, counters, csv; impls: each family's files over common/),
# and a file-level call cycle is where that layering silently breaks. This
# reads the built objects, not the sources: file A depends on file B when A
# references a global symbol (function or data) that B defines, which is
# exactly what the linker sees. Statics and inline functions in headers make
# no edges, as they should.
#
# Checked groups: all of bench/ (its subfolders included) as one graph, and
# each impls/<family>/ on its own. Prints every cycle found as
# "a.c -> b.c -> a.c" and exits 1; exits 0 and prints one line otherwise.
#
# usage: scripts/check-cycles.sh [BUILD_DIR]   (default build; run make first)
set -euo pipefail
build=${1:-build}
[[ -d "$build/bench" && -d "$build/impls" ]] || {
    echo "check-cycles: no objects under $build/bench and $build/impls; run make first" >&2
    exit 2
}

mapfile -t objs < <(find "$build/bench" "$build/impls" -name '*.o' | sort)
((${#objs[@]} > 0)) || { echo "check-cycles: no object files under $build" >&2; exit 2; }

# One line per symbol: "D file sym" for a definition, "U file sym" for a use.
for o in "${objs[@]}"; do
    src=${o#"$build"/}
    src=${src%.o}.c
    # An object whose source is gone (moved or deleted since that build)
    # is not part of the program; its symbols would make phantom edges.
    [[ -f "$src" ]] || continue
    nm -P --defined-only --extern-only "$o" | awk -v f="$src" '$2 != "U" {print "D", f, $1}'
    nm -P --undefined-only "$o" | awk -v f="$src" '{print "U", f, $1}'
done | awk '
# The group a file belongs to: "bench", or "impls/<family>".
function group(f,   p) {
    if (f ~ /^bench\//) return "bench"
    n = split(f, p, "/")
    return n >= 3 ? p[1] "/" p[2] : f
}
$1 == "D" { def[$3] = $2; next }
$1 == "U" { use[++nu] = $2 SUBSEP $3 }
END {
    for (i = 1; i <= nu; i++) {
        split(use[i], u, SUBSEP)
        a = u[1]; b = def[u[2]]
        if (b == "" || a == b || group(a) != group(b)) continue
        if (!((a, b) in edge)) { edge[a, b] = 1; out[a] = out[a] " " b; nodes[a]; nodes[b] }
    }
    ncycles = 0
    for (n in nodes) if (!(n in state)) dfs(n, 0)
    if (ncycles) { printf "check-cycles: %d file-level call cycle(s)\n", ncycles; exit 1 }
    n = 0; for (x in nodes) n++
    printf "check-cycles: no file-level call cycle among %d files (bench/, each impls family)\n", n
}
# Depth-first search; a back edge to a file on the stack is a cycle.
function dfs(n, depth,   k, i, m, c, s, nx) {
    state[n] = 1; stack[depth] = n
    m = split(out[n], nx, " ")
    for (i = 1; i <= m; i++) {
        c = nx[i]
        if ((c in state) && state[c] == 1) {
            s = ""
            for (k = 0; k <= depth; k++) if (s != "" || stack[k] == c) s = s stack[k] " -> "
            print "  cycle: " s c
            ncycles++
        } else if (!(c in state)) dfs(c, depth + 1)
    }
    state[n] = 2
}'
