# shellcheck shell=bash
# bash completion for berth(1).  The verbs, their options and what their
# arguments are come from berth itself ("berth __complete", from the same
# tables as its help), machine names and states from "berth list", snapshots
# from "berth snapshots".

_berth_machines() { # [running|stopped]: the machines, or those in that state (not berth-oci's containers)
        "${_berth_cmd[@]}" list </dev/null 2>/dev/null | awk -v want="${1:-}" '$NF ~ /^oci:/ { next } NR > 1 {
                if (want == "" || (want == "running" && $2 ~ /^running/) || (want == "stopped" && $2 !~ /^running/))
                        print $1 }'
}

_berth() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        local i w verb="" vi=0
        # berth itself, with --root/--config/-H as given, to ask about machines
        # (with -H, the remote host's).
        # With -H that goes over ssh while the user waits at the prompt:
        # no stdin, no ssh questions (BERTH_SSH_BATCH), at most 5 seconds.
        _berth_cmd=(env BERTH_SSH_BATCH=1 timeout 5 "${COMP_WORDS[0]}")
        for ((i = 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                case $w in
                --root | --config | --host | -H)
                        _berth_cmd+=("$w" "${COMP_WORDS[i + 1]}")
                        ((i++))
                        ;;
                --root=* | --config=* | --host=* | -H?*) _berth_cmd+=("$w") ;;
                -*) ;;
                *)
                        verb=$w vi=$i
                        break
                        ;;
                esac
        done

        if [[ -z $verb ]]; then
                case $prev in
                --root) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
                --config) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
                --host | -H)
                        # bash-completion's hosts (ssh config, known_hosts) when loaded.
                        if declare -F _known_hosts_real >/dev/null; then
                                _known_hosts_real -- "$cur"
                        else
                                mapfile -t COMPREPLY < <(compgen -A hostname -- "$cur")
                        fi
                        return
                        ;;
                esac
                if [[ $cur == -* ]]; then
                        mapfile -t COMPREPLY < <(compgen -W "--host --root --config --json --quiet --help --version" -- "$cur")
                else
                        mapfile -t COMPREPLY < <(compgen -W "$("${COMP_WORDS[0]}" __complete verbs 2>/dev/null)" -- "$cur")
                fi
                return
        fi
        if [[ $verb == help ]]; then
                ((COMP_CWORD == vi + 1)) &&
                        mapfile -t COMPREPLY < <(compgen -W "$("${COMP_WORDS[0]}" __complete verbs 2>/dev/null)" -- "$cur")
                return
        fi

        local opts kind runs_command
        opts=$("${COMP_WORDS[0]}" __complete options "$verb" 2>/dev/null) || return
        kind=$("${COMP_WORDS[0]}" __complete args "$verb" 2>/dev/null)
        runs_command=$("${COMP_WORDS[0]}" __complete runs-command "$verb" 2>/dev/null)

        # The arguments of options that take a word from a list.
        case $verb:$prev in
        logs:-o | logs:--output) mapfile -t COMPREPLY < <(compgen -W "short short-iso" -- "$cur"); return ;;
        logs:--since | logs:--until) mapfile -t COMPREPLY < <(compgen -W "today yesterday now -5min -1h" -- "$cur"); return ;;
        *:--network) mapfile -t COMPREPLY < <(compgen -W "bridge none host macvlan ipvlan cni:" -- "$cur"); return ;;
        esac
        # The argument of an option: a path, as good a guess as any.
        if [[ $prev == -* ]] && grep -qxF -- "$prev=" <<<"$opts"; then
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                return
        fi

        # The positional arguments so far (options and their arguments skipped).
        local args=() only_args=0
        for ((i = vi + 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                if ((only_args)) || [[ $w != -* || $w == - ]]; then
                        args+=("$w")
                        [[ $runs_command == yes ]] && ((${#args[@]} > 1)) && return # in the command
                        continue
                fi
                if [[ $w == -- ]]; then
                        only_args=1
                        continue
                fi
                [[ $w != *=* ]] && grep -qxF -- "$w=" <<<"$opts" && ((i++))
        done
        # After the machine: the command's words, which live in the machine.
        [[ $runs_command == yes ]] && ((${#args[@]} >= 1)) && return

        if [[ $cur == -* ]] && ((!only_args)); then
                mapfile -t COMPREPLY < <(compgen -W "${opts//=/}" -- "$cur")
                return
        fi
        local n=${#args[@]}
        case $kind in
        machine) ((n == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_berth_machines)" -- "$cur") ;;
        running) ((n == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_berth_machines running)" -- "$cur") ;;
        stopped) ((n == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_berth_machines stopped)" -- "$cur") ;;
        source) ((n == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_berth_machines) busybox debian" -- "$cur") ;;
        machine-snapshot)
                if ((n == 0)); then
                        mapfile -t COMPREPLY < <(compgen -W "$(_berth_machines)" -- "$cur")
                elif ((n == 1)); then
                        mapfile -t COMPREPLY < <(compgen -W "$("${_berth_cmd[@]}" snapshots "${args[0]}" </dev/null 2>/dev/null |
                                awk 'NR > 1 { print $1 }')" -- "$cur")
                fi
                ;;
        file)
                # Host paths, and for cp NAME: of every machine.
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                if [[ $verb == cp && $cur != */* ]]; then
                        local m
                        for m in $(_berth_machines); do
                                [[ $m: == "$cur"* ]] && COMPREPLY+=("$m:")
                        done
                        compopt -o nospace 2>/dev/null
                fi
                ;;
        esac
}
complete -F _berth berth
