_secret__render() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="secret__render"
                ;;
            secret__render,check)
                cmd="secret__render__subcmd__check"
                ;;
            secret__render,completions)
                cmd="secret__render__subcmd__completions"
                ;;
            secret__render,extract)
                cmd="secret__render__subcmd__extract"
                ;;
            secret__render,help)
                cmd="secret__render__subcmd__help"
                ;;
            secret__render,man)
                cmd="secret__render__subcmd__man"
                ;;
            secret__render,render)
                cmd="secret__render__subcmd__render"
                ;;
            secret__render,rotate)
                cmd="secret__render__subcmd__rotate"
                ;;
            secret__render,run)
                cmd="secret__render__subcmd__run"
                ;;
            secret__render,store)
                cmd="secret__render__subcmd__store"
                ;;
            secret__render,watch)
                cmd="secret__render__subcmd__watch"
                ;;
            secret__render__subcmd__help,check)
                cmd="secret__render__subcmd__help__subcmd__check"
                ;;
            secret__render__subcmd__help,completions)
                cmd="secret__render__subcmd__help__subcmd__completions"
                ;;
            secret__render__subcmd__help,extract)
                cmd="secret__render__subcmd__help__subcmd__extract"
                ;;
            secret__render__subcmd__help,help)
                cmd="secret__render__subcmd__help__subcmd__help"
                ;;
            secret__render__subcmd__help,man)
                cmd="secret__render__subcmd__help__subcmd__man"
                ;;
            secret__render__subcmd__help,render)
                cmd="secret__render__subcmd__help__subcmd__render"
                ;;
            secret__render__subcmd__help,rotate)
                cmd="secret__render__subcmd__help__subcmd__rotate"
                ;;
            secret__render__subcmd__help,run)
                cmd="secret__render__subcmd__help__subcmd__run"
                ;;
            secret__render__subcmd__help,store)
                cmd="secret__render__subcmd__help__subcmd__store"
                ;;
            secret__render__subcmd__help,watch)
                cmd="secret__render__subcmd__help__subcmd__watch"
                ;;
            secret__render__subcmd__help__subcmd__store,delete)
                cmd="secret__render__subcmd__help__subcmd__store__subcmd__delete"
                ;;
            secret__render__subcmd__help__subcmd__store,get)
                cmd="secret__render__subcmd__help__subcmd__store__subcmd__get"
                ;;
            secret__render__subcmd__help__subcmd__store,put)
                cmd="secret__render__subcmd__help__subcmd__store__subcmd__put"
                ;;
            secret__render__subcmd__store,delete)
                cmd="secret__render__subcmd__store__subcmd__delete"
                ;;
            secret__render__subcmd__store,get)
                cmd="secret__render__subcmd__store__subcmd__get"
                ;;
            secret__render__subcmd__store,help)
                cmd="secret__render__subcmd__store__subcmd__help"
                ;;
            secret__render__subcmd__store,put)
                cmd="secret__render__subcmd__store__subcmd__put"
                ;;
            secret__render__subcmd__store__subcmd__help,delete)
                cmd="secret__render__subcmd__store__subcmd__help__subcmd__delete"
                ;;
            secret__render__subcmd__store__subcmd__help,get)
                cmd="secret__render__subcmd__store__subcmd__help__subcmd__get"
                ;;
            secret__render__subcmd__store__subcmd__help,help)
                cmd="secret__render__subcmd__store__subcmd__help__subcmd__help"
                ;;
            secret__render__subcmd__store__subcmd__help,put)
                cmd="secret__render__subcmd__store__subcmd__help__subcmd__put"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        secret__render)
            opts="-v -q -h -V --target --stores --file-root --log-format --verbose --quiet --help --version render check run watch extract rotate store completions man help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__check)
            opts="-v -q -h --resolve --format --max-concurrency --target --stores --file-root --log-format --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --format)
                    COMPREPLY=($(compgen -W "human json github" -- "${cur}"))
                    return 0
                    ;;
                --max-concurrency)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__completions)
            opts="-v -q -h --target --stores --file-root --log-format --verbose --quiet --help bash elvish fish powershell zsh"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__extract)
            opts="-v -q -h --to --path-template --write --backup --overwrite --target --stores --file-root --log-format --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --to)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --path-template)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help)
            opts="render check run watch extract rotate store completions man help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__check)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__completions)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__extract)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__man)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__render)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__rotate)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__run)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__store)
            opts="get put delete"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__store__subcmd__delete)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__store__subcmd__get)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__store__subcmd__put)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__help__subcmd__watch)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__man)
            opts="-v -q -h --target --stores --file-root --log-format --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__render)
            opts="-v -q -h --out --require-tmpfs --file-mode --file-group --max-concurrency --target --stores --file-root --log-format --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-mode)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-group)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-concurrency)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__rotate)
            opts="-v -q -h --length --charset --bcrypt-web-config --user --create --target --stores --file-root --log-format --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --length)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --charset)
                    COMPREPLY=($(compgen -W "alnum hex base64url printable" -- "${cur}"))
                    return 0
                    ;;
                --bcrypt-web-config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --user)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__run)
            opts="-v -q -h --out --require-tmpfs --file-mode --file-group --max-concurrency --listen --reload-on --reload-debounce --start-partial --watch-targets --watch-targets-interval --stop-timeout --verify-reload --no-verify-reload --target --stores --file-root --log-format --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-mode)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-group)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-concurrency)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reload-on)
                    COMPREPLY=($(compgen -W "any config" -- "${cur}"))
                    return 0
                    ;;
                --reload-debounce)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --watch-targets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --watch-targets-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stop-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__store)
            opts="-v -q -h --target --stores --file-root --log-format --verbose --quiet --help get put delete help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__store__subcmd__delete)
            opts="-v -q -h --target --stores --file-root --log-format --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__store__subcmd__get)
            opts="-v -q -h --version --reveal --target --stores --file-root --log-format --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --version)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__store__subcmd__help)
            opts="get put delete help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__store__subcmd__help__subcmd__delete)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__store__subcmd__help__subcmd__get)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__store__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__store__subcmd__help__subcmd__put)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__store__subcmd__put)
            opts="-v -q -h --from-file --target --stores --file-root --log-format --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --from-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        secret__subcmd__render__subcmd__watch)
            opts="-v -q -h --out --require-tmpfs --file-mode --file-group --max-concurrency --listen --reload-on --reload-debounce --start-partial --watch-targets --watch-targets-interval --reload-pid --reload-pidfile --reload-url --verify-url --target --stores --file-root --log-format --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-mode)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-group)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-concurrency)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reload-on)
                    COMPREPLY=($(compgen -W "any config" -- "${cur}"))
                    return 0
                    ;;
                --reload-debounce)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --watch-targets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --watch-targets-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reload-pid)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reload-pidfile)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reload-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --verify-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --target)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stores)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file-root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _secret__render -o nosort -o bashdefault -o default secret-render
else
    complete -F _secret__render -o bashdefault -o default secret-render
fi
