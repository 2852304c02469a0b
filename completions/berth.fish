# fish completion for berth(1).  The verbs, their options and what their
# arguments are come from berth itself ("berth __complete", from the same
# tables as its help), machine names and states from "berth list", snapshots
# from "berth snapshots".

# berth with the --root, --config and -H of the command line being completed
# (with -H, the remote host's machines).
function __berth_run
    set -l words (commandline -opc)
    set -l global
    set -l i 2
    while test $i -le (count $words)
        switch $words[$i]
            case --root --config --host -H
                set -a global $words[$i] $words[(math $i + 1)]
                set i (math $i + 1)
            case '--root=*' '--config=*' '--host=*' '-H?*'
                set -a global $words[$i]
            case '-*'
            case '*'
                break
        end
        set i (math $i + 1)
    end
    # With -H that goes over ssh while the user waits at the prompt: no
    # stdin, no ssh questions (BERTH_SSH_BATCH), at most 5 seconds.
    env BERTH_SSH_BATCH=1 timeout 5 $words[1] $global $argv </dev/null 2>/dev/null
end

# The verb and, after it, the words of the command line so far.
function __berth_verb_and_words
    set -l words (commandline -opc)
    set -e words[1]
    while set -q words[1]
        switch $words[1]
            case --root --config --host -H
                set -e words[1]
            case '-*'
            case '*'
                printf '%s\n' $words
                return 0
        end
        set -e words[1]
    end
    return 1
end

function __berth_needs_verb
    not __berth_verb_and_words >/dev/null
end

# The positional arguments after the verb (options and their values skipped).
function __berth_args
    set -l words (__berth_verb_and_words); or return
    set -l opts (__berth_run __complete options $words[1])
    set -e words[1]
    set -l only 0
    while set -q words[1]
        set -l w $words[1]
        set -e words[1]
        if test $only = 1; or test "$w" = -; or not string match -q -- '-*' $w
            echo $w
        else if test "$w" = --
            set only 1
        else if not string match -q -- '*=*' $w; and contains -- "$w=" $opts
            set -e words[1]
        end
    end
end

function __berth_machines
    __berth_run list | awk -v want="$argv[1]" '$NF ~ /^oci:/ { next } NR > 1 {
        if (want == "" || (want == "running" && $2 ~ /^running/) || (want == "stopped" && $2 !~ /^running/))
            print $1 }'
end

function __berth_options
    set -l words (__berth_verb_and_words); or return
    __berth_run __complete options $words[1] | string replace -r '=$' ''
end

function __berth_positional
    set -l words (__berth_verb_and_words); or return
    set -l verb $words[1]
    set -l args (__berth_args)
    set -l n (count $args)
    if test $verb = help
        test $n -eq 0; and __berth_run __complete verbs
        return
    end
    # After the machine, the command's words live in the machine.
    if test "$(__berth_run __complete runs-command $verb)" = yes; and test $n -ge 1
        return
    end
    switch (__berth_run __complete args $verb)
        case machine
            test $n -eq 0; and __berth_machines
        case running
            test $n -eq 0; and __berth_machines running
        case stopped
            test $n -eq 0; and __berth_machines stopped
        case source
            test $n -eq 0; and __berth_machines; and printf '%s\n' busybox debian
        case machine-snapshot
            if test $n -eq 0
                __berth_machines
            else if test $n -eq 1
                __berth_run snapshots $args[1] | awk 'NR > 1 { print $1 }'
            end
        case file
            __fish_complete_path (commandline -ct)
            if test $verb = cp
                __berth_machines | string replace -r '$' ':'
            end
    end
end

complete -c berth -f
complete -c berth -n __berth_needs_verb -s H -l host -r -a '(__fish_print_hostnames)' -d 'run the verb on HOST over ssh'
complete -c berth -n __berth_needs_verb -l root -r -a '(__fish_complete_directories)' -d 'state root'
complete -c berth -n __berth_needs_verb -l config -r -F -d 'global configuration'
complete -c berth -n __berth_needs_verb -l json -d 'machine-readable output'
complete -c berth -n __berth_needs_verb -s q -l quiet -d 'print less'
complete -c berth -n __berth_needs_verb -s h -l help -d 'show the help'
complete -c berth -n __berth_needs_verb -l version -d 'print the version'
complete -c berth -n __berth_needs_verb -a '(__berth_run __complete verbs)'
complete -c berth -n 'not __berth_needs_verb; and string match -q -- "-*" (commandline -ct)' -a '(__berth_options)'
complete -c berth -n 'not __berth_needs_verb; and not string match -q -- "-*" (commandline -ct)' -a '(__berth_positional)'
# The arguments of options that take a word from a list.
complete -c berth -n '__fish_seen_subcommand_from logs' -s o -l output -x -a 'short short-iso'
complete -c berth -n '__fish_seen_subcommand_from logs' -l since -x -a 'today yesterday now -5min -1h'
complete -c berth -n '__fish_seen_subcommand_from logs' -l until -x -a 'today yesterday now -5min -1h'
complete -c berth -n '__fish_seen_subcommand_from create start run' -l network -x -a 'bridge none host macvlan ipvlan cni:'
