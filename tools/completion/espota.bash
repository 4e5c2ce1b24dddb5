# bash completion for espota and espota-sim (libespota).
# Installed as share/bash-completion/completions/{espota,espota-sim}.
# Subcommands, flags and value lists come from the installed tools themselves
# (--help, `espota boards --names`, --list-boards), so they follow the version
# that is installed; a tool that lacks one of them just completes less.
# shellcheck disable=SC2207  # COMPREPLY=($(compgen ...)) is the completion idiom

# Options named in a --help text: its words that start with - or --.
_espota_help_opts()
{
    "$@" --help 2>/dev/null | grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z0-9_-]*' | sed 's/^[ ,]//' | sort -u
}

# The subcommands listed under "Subcommands" in `espota --help`.
_espota_subcommands()
{
    "$1" --help 2>/dev/null | sed -n '/^Subcommands/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p'
}

# Board names: `espota boards --names` (one per line) when the tool has it,
# else the first column of the Boards section of --list-boards.
_espota_boards()
{
    local out
    out=$("$1" boards --names 2>/dev/null) && [ -n "$out" ] && { printf '%s\n' "$out"; return; }
    "$1" --list-boards 2>/dev/null | sed -n '/^Boards/,/^[^ ]/s/^  \([^ ]\{1,\}\) .*/\1/p'
}

_espota_layouts()
{
    "$1" --list-boards 2>/dev/null | sed -n '/layouts/,/^[^ ]/s/^  \([^ ]\{1,\}\) .*/\1/p'
}

_espota_files()
{
    # bash-completion's _filedir (quoting, ~) when loaded, else plain compgen
    if declare -F _filedir >/dev/null; then COMPREPLY=(); _filedir; return; fi
    local IFS=$'\n'
    COMPREPLY=($(compgen -f -- "$1"))
}

_espota()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev='' cmd=${COMP_WORDS[0]} sub='' i w s
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    local subs
    subs=$(_espota_subcommands "$cmd")
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        [[ $w == -* ]] && continue
        for s in $subs; do [ "$w" = "$s" ] && sub=$s; done
        break
    done

    case $prev in
        -f|--file|--hosts|--auth-file|--partitions)
            _espota_files "$cur"; return 0 ;;
        --board)
            COMPREPLY=($(compgen -W "$(_espota_boards "$cmd")" -- "$cur")); return 0 ;;
        --layout)
            COMPREPLY=($(compgen -W "$(_espota_layouts "$cmd")" -- "$cur")); return 0 ;;
        --platform)
            COMPREPLY=($(compgen -W "esp8266 esp32 auto" -- "$cur")); return 0 ;;
        --scheme)
            COMPREPLY=($(compgen -W "$("${cmd%espota}espota-sim" --help 2>/dev/null | sed -n 's/^ *--scheme NAME *//p' | tr '|' ' ')" -- "$cur"))
            return 0 ;;
        --auth-env)
            COMPREPLY=($(compgen -v -- "$cur")); return 0 ;;
        -i|--ip)
            if declare -F _known_hosts_real >/dev/null; then _known_hosts_real -- "$cur"; fi
            return 0 ;;
        -I|--host_ip|--host-ip|-p|--port|-P|--host_port|--host-port|-a|--auth|-t|--timeout|\
        --attempts|--window|--chunk|--parallel|--retries|--device-timeout|--chip-size|\
        --device-header-size|--running-size)
            return 0 ;;
    esac

    if [[ $cur == -* ]]; then
        if [ -n "$sub" ]; then
            COMPREPLY=($(compgen -W "$(_espota_help_opts "$cmd" "$sub")" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_espota_help_opts "$cmd")" -- "$cur"))
        fi
        return 0
    fi
    if [ -z "$sub" ] && [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
        [ ${#COMPREPLY[@]} -gt 0 ] && [ -n "$cur" ] && return 0
    fi
    # an image file (check FILE), or nothing better to offer
    local subreply=("${COMPREPLY[@]}")
    _espota_files "$cur"
    COMPREPLY=("${subreply[@]}" "${COMPREPLY[@]}")
    return 0
}

_espota_sim()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev='' cmd=${COMP_WORDS[0]}
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        --platform)
            COMPREPLY=($(compgen -W "$("$cmd" --help 2>/dev/null | sed -n 's/^ *--platform \([^ ]*\).*/\1/p' | tr '|' ' ')" -- "$cur"))
            return 0 ;;
        --scheme)
            COMPREPLY=($(compgen -W "$("$cmd" --help 2>/dev/null | sed -n 's/^ *--scheme NAME *//p' | tr '|' ' ')" -- "$cur"))
            return 0 ;;
        --layout)
            COMPREPLY=($(compgen -W "$(_espota_layouts "${cmd%espota-sim}espota")" -- "$cur")); return 0 ;;
        --out-dir)
            local IFS=$'\n'; COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
        --password-file|--partitions|--log|--ready-file)
            _espota_files "$cur"; return 0 ;;
        --fault)
            COMPREPLY=($(compgen -W "$("$cmd" --help 2>/dev/null | sed -n '/^Faults/,/^ *-v/p' | sed '1d;$d' |
                tr ' ' '\n' | sed -n 's/^\([a-z][a-z-]*\)\(=.*\)\{0,1\}$/\1/p')" -- "$cur"))
            return 0 ;;
        --listen|--port|--count|--addr-base|--password|--password-hash|--chip-size|\
        --header-flash-size|--sketch-size|--signing|--chip-id|--running|--fixed-micros|\
        --max-uploads|--lifetime|--rtt|--loop-latency|--bandwidth|--mss|--window|--erase-ms|\
        --program-us|--block-erase-ms|--pbkdf2-ms|--boot-ms|--connect-timeout-ms)
            return 0 ;;
    esac
    COMPREPLY=($(compgen -W "$(_espota_help_opts "$cmd")" -- "$cur"))
    return 0
}

complete -F _espota espota
complete -F _espota_sim espota-sim
