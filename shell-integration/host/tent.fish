# tent's command-not-found handler for fish, on the host. Opt in with one
# line in ~/.config/fish/config.fish:
#     source /path/to/tent/shell-integration/host/tent.fish
# See tent.bash: `tent which` reads only the boxes' index files.

if not set -q TENT_BOX; and command -q tent
    if functions -q fish_command_not_found
        functions -c fish_command_not_found _tent_previous_cnf
    end
    function fish_command_not_found
        set -l hits (tent which -- $argv[1] 2>/dev/null)
        if test (count $hits) -gt 0
            printf 'fish: %s: command not found on the host; it is in a tent box:\n' $argv[1] >&2
            for hit in $hits
                set -l fields (string split \t -- $hit)
                printf '  %s\n' $fields[3] >&2
            end
            return 127
        end
        if functions -q _tent_previous_cnf
            _tent_previous_cnf $argv
        else
            printf 'fish: Unknown command: %s\n' $argv[1] >&2
        end
    end
end
