# shellcheck shell=bash
# Assertions shared by the shell test scripts (sourced, not run). Each test
# script ends with `summary`, which prints `N passed, M failed` and sets the
# exit status.

passed=0
failed=0
ok() {
    passed=$((passed + 1))
    printf 'ok   %s\n' "$1"
}
not_ok() {
    failed=$((failed + 1))
    printf 'FAIL %s\n' "$1"
    if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/     | /'; fi
}
# check NAME CMD...: passes when CMD succeeds; shows its output otherwise.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}
# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $(printf '%q' "$2")
actual:   $(printf '%q' "$3")"; fi
}
# check_has NAME NEEDLE HAYSTACK
check_has() {
    case $3 in *"$2"*) ok "$1" ;; *) not_ok "$1" "no '$2' in:
$3" ;; esac
}
