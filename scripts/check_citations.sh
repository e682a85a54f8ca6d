#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks that comments and docs cite only the repository's own pages:
#  1. nothing cites the design briefs the project was written from (their file names, their section
#     numbers, the directory they live in), since a reader of the repository cannot open them;
#  2. every `docs/<page>.md` named anywhere exists;
#  3. every section named as `docs/<page>.md, "Section"` (or `Tests/vectors/README.md, "Section"`) is a
#     heading of that page.
# Prints each offending line as path:line: text [rule] and exits 1 when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

self=scripts/check_citations.sh
# Tracked text files, minus captured data (vectors) and verbatim copies of outside examples.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files | grep -vE '^Tests/vectors/.*\.json$|\.snippet$|(^|/)package-lock\.json$' |
        grep -vxF "$self" | while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done)
else
    mapfile -t files < <(find . -path ./.build -prune -o -path '*/node_modules' -prune -o -type f -print |
        sed 's|^\./||' | grep -vE '^\.git/|^Tests/vectors/.*\.json$|\.snippet$|(^|/)package-lock\.json$' |
        grep -vxF "$self")
fi

failures=$(mktemp)
trap 'rm -f "$failures"' EXIT
report() { # $1: rule, then path:line: text lines on stdin (runs in pipelines: records to a file)
    local rule=$1 line
    while IFS= read -r line; do
        printf '%s  [%s]\n' "$line" "$rule" | tee -a "$failures" >&2
    done
}

# 1. Citations of the design briefs.
outside='/work/shared|\.\./shared/|\bshared/(spec|seeds|vectors)\b|\bSTYLE(\.md\b| rules? [0-9])'
outside+='|\b(python|node)-api(\.md)?\b|(^|[^A-Za-z0-9_./-])spec/[A-Za-z0-9_-]+\.md\b'
outside+='|\bsemantics(\.md\b|,? (section|step|§) ?[0-9]|,? [0-9]+(\.[0-9]+)*\b)|\bsem [0-9]|§ ?[0-9]'
outside+='|(^|[^/A-Za-z0-9_-])(abi|exporters)\.md,? (section |§ ?)?[0-9]'
grep -InE "$outside" -- "${files[@]}" | report "cites a file outside the repository" || true

# Bare section numbers of the briefs in comments: "(2.5)", "(3.1 step 9)", "(section 6.3)", "(1.6)".
bare='\((sections? |§ ?)?[0-9]{1,2}\.[0-9]{1,2}[a-z]?( step [0-9]+)?(, ?[0-9]{1,2}\.[0-9]{1,2}[a-z]?)*\)'
bare+='|\(sections? [0-9]+\)'
grep -InE "(//|/\*|^[[:space:]]*\*|(^|[[:space:]])#[[:space:]]).*($bare)" -- "${files[@]}" | report "bare section number of an outside brief" || true

# 2. Every cited docs page exists.
while IFS= read -r hit; do
    loc=${hit%%:docs/*}
    page=${hit#"$loc":}
    [ -f "$page" ] || printf '%s: %s does not exist\n' "$loc" "$page" | report "missing page"
done < <(grep -InoE '(^|[^A-Za-z0-9_./-])docs/[A-Za-z0-9_.-]+\.md' -- "${files[@]}" |
    sed -E 's|^([^:]+:[0-9]+:).*(docs/[A-Za-z0-9_.-]+\.md)$|\1\2|')

# 3. Every cited section is a heading of its page (backticks aside) or a paragraph lead "**Section.**".
while IFS= read -r hit; do
    loc=$(printf '%s' "$hit" | cut -d: -f1-2)
    cite=${hit#"$loc":}
    page=$(printf '%s' "$cite" | sed -E 's|^([^ ,`(]*\.md).*|\1|')
    [ -f "$page" ] || continue # reported above when it is a docs page
    while IFS= read -r section; do
        re=$(printf '%s' "$section" | sed 's/[][\.*^$+?(){}|/]/\\&/g')
        grep -qE "^(#{1,6} \`?$re\`?\$|\*\*$re\.?\*\*)" "$page" ||
            printf '%s: %s has no section "%s"\n' "$loc" "$page" "$section" | report "missing section"
    done < <(printf '%s' "${cite#"$page"}" | grep -oE '"[^"]+"' | tr -d '"')
done < <(grep -InoE '(^|[^A-Za-z0-9_./-])(docs/[A-Za-z0-9_.-]+|Tests/vectors/README)\.md`?(, | \()("[^"]+"(, )?)+' -- "${files[@]}" |
    sed -E 's|^([^:]+:[0-9]+:)[^A-Za-z]*|\1|')

if [ -s "$failures" ]; then
    echo "error: $(wc -l <"$failures") citation(s) above; cite the repository's own pages (docs/<page>.md, \"Section\")" >&2
    exit 1
fi
