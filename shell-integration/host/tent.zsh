# tent's command-not-found handler for zsh, on the host. Opt in with one
# line in ~/.zshrc:
#     source /path/to/tent/shell-integration/host/tent.zsh
# See tent.bash: `tent which` reads only the boxes' index files.

if [[ -z ${TENT_BOX:-} ]] && (( $+commands[tent] )); then
    if (( $+functions[command_not_found_handler] )); then
        functions[_tent_previous_cnf]=$functions[command_not_found_handler]
    fi
    command_not_found_handler() {
        local hits box scope run
        hits=$(tent which -- "$1" 2>/dev/null)
        if [[ -n $hits ]]; then
            print -r -u2 -- "zsh: $1: command not found on the host; it is in a tent box:"
            while IFS=$'\t' read -r box scope run; do
                print -r -u2 -- "  $run"
            done <<< "$hits"
            return 127
        fi
        if (( $+functions[_tent_previous_cnf] )); then
            _tent_previous_cnf "$@"
            return $?
        fi
        print -r -u2 -- "zsh: command not found: $1"
        return 127
    }
fi
