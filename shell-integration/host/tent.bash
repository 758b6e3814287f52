# tent's command-not-found handler for bash, on the host. Opt in with one
# line in ~/.bashrc:
#     . /path/to/tent/shell-integration/host/tent.bash
# A command missing on the host but present in a box is named with the way to
# run it. `tent which` reads only the index files tent's boxes keep: no box is
# entered and no engine asked, so a typo costs no time.

if [ -z "${TENT_BOX:-}" ] && command -v tent >/dev/null 2>&1; then
    # Keep a handler the distribution installed, to fall back on.
    if declare -F command_not_found_handle >/dev/null 2>&1; then
        eval "_tent_previous_cnf() $(declare -f command_not_found_handle | tail -n +2)"
    fi
    command_not_found_handle() {
        local hits
        hits=$(tent which -- "$1" 2>/dev/null)
        if [ -n "$hits" ]; then
            printf 'bash: %s: command not found on the host; it is in a tent box:\n' "$1" >&2
            printf '%s\n' "$hits" | while IFS="$(printf '\t')" read -r _ _ run; do
                printf '  %s\n' "$run" >&2
            done
            return 127
        fi
        if declare -F _tent_previous_cnf >/dev/null 2>&1; then
            _tent_previous_cnf "$@"
            return $?
        fi
        printf 'bash: %s: command not found\n' "$1" >&2
        return 127
    }
fi
