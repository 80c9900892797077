# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_secret_render_global_optspecs
    string join \n target= stores= file-root= log-format= v/verbose q/quiet h/help V/version
end

function __fish_secret_render_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_secret_render_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_secret_render_using_subcommand
    set -l cmd (__fish_secret_render_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c secret-render -n "__fish_secret_render_needs_command" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_needs_command" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_needs_command" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_needs_command" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_needs_command" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_needs_command" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c secret-render -n "__fish_secret_render_needs_command" -s V -l version -d 'Print version'
complete -c secret-render -n "__fish_secret_render_needs_command" -f -a "render" -d 'Resolve every secret once, write the secret files and the rendered configs, and print the rendered configs\' paths'
complete -c secret-render -n "__fish_secret_render_needs_command" -f -a "check" -d 'Validate every provider map and the rendered result without fetching: placeholder values are rendered into a private temporary directory and checked with `promtool`/`amtool` when they are on PATH'
complete -c secret-render -n "__fish_secret_render_needs_command" -f -a "run" -d 'Wrap a target\'s command line: render the configs named by its `--config.file` and `--web.config.file`, point those arguments at the rendered copies, start it once every secret has a value, keep values fresh and reload it (SIGHUP) when something changed'
complete -c secret-render -n "__fish_secret_render_needs_command" -f -a "watch" -d 'Keep rendered configs fresh without a child (the sidecar after an init container): the same loop as `run`, reloading a process by pid or pid file, or by an HTTP POST'
complete -c secret-render -n "__fish_secret_render_needs_command" -f -a "extract" -d 'Move inline secrets into a store and rewrite the config to provider maps, changing only the secret values\' text (comments, blank lines, key order and quoting are kept)'
complete -c secret-render -n "__fish_secret_render_needs_command" -f -a "rotate" -d 'Write a new random value (from the OS CSPRNG) as a new version of a secret; the previous version stays readable where the store keeps versions. Prints what it did, never the value'
complete -c secret-render -n "__fish_secret_render_needs_command" -f -a "store" -d 'Read, write or delete one secret from a script. Values are read from stdin or `--from-file`, never from the command line, and printed only with `--reveal`'
complete -c secret-render -n "__fish_secret_render_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c secret-render -n "__fish_secret_render_needs_command" -f -a "man" -d 'Print the man page in roff (for the whole tool, or for one subcommand)'
complete -c secret-render -n "__fish_secret_render_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -l out -d 'Output directory, created 0700 [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render]. Refused when it is a symlink, owned by another user, or writable by group or others' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -l file-mode -d 'Mode of secret files and rendered configs, in octal (for a target running as another user: `0640` with `--file-group`; read-only `0400`/`0440` work too); at most 0660: nothing for others, no execute bit' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -l file-group -d 'Group (numeric id) to give secret files and rendered configs' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -l max-concurrency -d 'Most concurrent fetches per provider and store' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -l require-tmpfs -d 'Fail (exit 5) instead of warning when the output directory is not on tmpfs or ramfs'
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand render" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c secret-render -n "__fish_secret_render_using_subcommand check" -l format -d 'Report format: `github` prints workflow commands that annotate the config in a pull request' -r -f -a "human\t''
json\t''
github\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand check" -l max-concurrency -d 'Most concurrent fetches per provider and store' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand check" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand check" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand check" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand check" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand check" -l resolve -d 'Also fetch every secret, proving each exists; the report shows no values'
complete -c secret-render -n "__fish_secret_render_using_subcommand check" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand check" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l out -d 'Output directory for the rendered configs and secret files, as for `render` [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render]' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l file-mode -d 'Mode of secret files and rendered configs, in octal (for a target running as another user: `0640` with `--file-group`; read-only `0400`/`0440` work too); at most 0660: nothing for others, no execute bit' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l file-group -d 'Group (numeric id) to give secret files and rendered configs' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l max-concurrency -d 'Most concurrent fetches per provider and store' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l listen -d 'Admin HTTP listener: /metrics, /-/healthy, /-/ready, POST /-/refresh[?secret=NAME]. `off` disables it' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l reload-on -d 'Reload on `any` change (a rendered config or a secret value), or only when a rendered `config` changed (Prometheus re-reads `*_file` secrets on every request)' -r -f -a "any\t''
config\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l reload-debounce -d 'Changes within this window make one reload (Go-style duration)' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l watch-targets -d 'Poll this Prometheus\'s targets API and refresh a job\'s secrets at once when its targets fail with HTTP 401/403 (e.g. `http://127.0.0.1:9090`)' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l watch-targets-interval -d 'How often `--watch-targets` polls' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l stop-timeout -d 'After SIGTERM/SIGINT/SIGQUIT is forwarded, how long the target may take to stop before SIGKILL (a second SIGINT/SIGTERM sends SIGKILL at once)' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l require-tmpfs -d 'Fail (exit 5) instead of warning when the output directory is not on tmpfs or ramfs'
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l start-partial -d 'Start (or keep going) even when some secrets were never fetched: their `_file` paths point at files that do not exist yet, so only the components that need them fail'
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l verify-reload -d 'Confirm each reload through the target\'s `/metrics` (`prometheus_config_last_reload_successful` and its success timestamp): the default for Prometheus and Alertmanager, unless their web config asks for TLS or basic auth'
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -l no-verify-reload -d 'Do not confirm reloads through the target\'s `/metrics`'
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l out -d 'Output directory: the init container\'s `render --out` [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render]' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l file-mode -d 'Mode of secret files and rendered configs, in octal (for a target running as another user: `0640` with `--file-group`; read-only `0400`/`0440` work too); at most 0660: nothing for others, no execute bit' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l file-group -d 'Group (numeric id) to give secret files and rendered configs' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l max-concurrency -d 'Most concurrent fetches per provider and store' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l listen -d 'Admin HTTP listener: /metrics, /-/healthy, /-/ready, POST /-/refresh[?secret=NAME]. `off` disables it' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l reload-on -d 'Reload on `any` change (a rendered config or a secret value), or only when a rendered `config` changed (Prometheus re-reads `*_file` secrets on every request)' -r -f -a "any\t''
config\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l reload-debounce -d 'Changes within this window make one reload (Go-style duration)' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l watch-targets -d 'Poll this Prometheus\'s targets API and refresh a job\'s secrets at once when its targets fail with HTTP 401/403 (e.g. `http://127.0.0.1:9090`)' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l watch-targets-interval -d 'How often `--watch-targets` polls' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l reload-pid -d 'Send SIGHUP to this process on reload' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l reload-pidfile -d 'Send SIGHUP to the process whose pid this file holds (re-read on every reload)' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l reload-url -d 'POST to this URL on reload (e.g. `http://127.0.0.1:9090/-/reload`)' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l verify-url -d 'Confirm each reload through this `/metrics` URL of the target' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l require-tmpfs -d 'Fail (exit 5) instead of warning when the output directory is not on tmpfs or ramfs'
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -l start-partial -d 'Start (or keep going) even when some secrets were never fetched: their `_file` paths point at files that do not exist yet, so only the components that need them fail'
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -l to -d 'Where the values go: a store under `secret_stores` (in the config or `--stores`), or a provider with its environment defaults (`vault`: VAULT_ADDR/VAULT_TOKEN, mount `secret`; `aws_secrets_manager`, `kubernetes`, `gcp_secret_manager`)' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -l path-template -d 'Store path of each value; the last `/` separates the key. Placeholders: `{config}` (file stem), `{job}`/`{job_name}` (enclosing `job_name`/`name`, else the parent path), `{field}`, `{path}` (the whole YAML path)' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -l write -d 'Write the values and replace the config atomically (default: print the diff only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -l backup -d 'With `--write`, keep the original as `CONFIG.bak-<unix time>` (mode 0600)'
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -l overwrite -d 'Replace store keys that already hold a different value'
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand extract" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -l length -d 'Length of the new value, in characters' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -l charset -d 'Characters the new value is drawn from' -r -f -a "alnum\t'A-Z, a-z, 0-9'
hex\t'0-9, a-f'
base64url\t'A-Z, a-z, 0-9, `-`, `_`'
printable\t'Printable ASCII except space, quotes, backquote and backslash'"
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -l bcrypt-web-config -d 'A Prometheus web config whose `basic_auth_users` entry for `--user` gets the new value\'s bcrypt hash (cost 10)' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -l user -d 'The user of `--bcrypt-web-config`' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -l create -d 'Write the value even when the secret or its key does not exist yet (it is created), or cannot be read first (a role allowed to write and not to read)'
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand rotate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -f -a "get" -d 'Show a secret\'s keys and lengths (never the value), or with `--reveal` the value itself'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -f -a "put" -d 'Write a value (from stdin, or `--from-file`) as a new version of the secret, byte for byte: a final newline is written too (and warned about; `printf %s` has none). With `key` the secret\'s other keys are kept; without, a secret of several keys is refused'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -f -a "delete" -d 'Delete the secret\'s `key` (as a new version), or without a key its current version'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and not __fish_seen_subcommand_from get put delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from get" -l version -d 'Read this version (Vault KV v2)' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from get" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from get" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from get" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from get" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from get" -l reveal -d 'Print the value to stdout'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from get" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from get" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from put" -l from-file -d 'Read the value from this file instead of stdin' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from put" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from put" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from put" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from put" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from put" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from put" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from put" -s h -l help -d 'Print help'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from delete" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from delete" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from delete" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from delete" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show a secret\'s keys and lengths (never the value), or with `--reveal` the value itself'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "put" -d 'Write a value (from stdin, or `--from-file`) as a new version of the secret, byte for byte: a final newline is written too (and warned about; `printf %s` has none). With `key` the secret\'s other keys are kept; without, a secret of several keys is refused'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete the secret\'s `key` (as a new version), or without a key its current version'
complete -c secret-render -n "__fish_secret_render_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c secret-render -n "__fish_secret_render_using_subcommand completions" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand completions" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand completions" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand completions" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand completions" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand completions" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand completions" -s h -l help -d 'Print help'
complete -c secret-render -n "__fish_secret_render_using_subcommand man" -l target -d 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config\'s shape, at the oldest version known' -r
complete -c secret-render -n "__fish_secret_render_using_subcommand man" -l stores -d 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand man" -l file-root -d 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path' -r -F
complete -c secret-render -n "__fish_secret_render_using_subcommand man" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c secret-render -n "__fish_secret_render_using_subcommand man" -s v -l verbose -d 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
complete -c secret-render -n "__fish_secret_render_using_subcommand man" -s q -l quiet -d 'Less log detail (-q warnings only, -qq errors only)'
complete -c secret-render -n "__fish_secret_render_using_subcommand man" -s h -l help -d 'Print help'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and not __fish_seen_subcommand_from render check run watch extract rotate store completions man help" -f -a "render" -d 'Resolve every secret once, write the secret files and the rendered configs, and print the rendered configs\' paths'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and not __fish_seen_subcommand_from render check run watch extract rotate store completions man help" -f -a "check" -d 'Validate every provider map and the rendered result without fetching: placeholder values are rendered into a private temporary directory and checked with `promtool`/`amtool` when they are on PATH'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and not __fish_seen_subcommand_from render check run watch extract rotate store completions man help" -f -a "run" -d 'Wrap a target\'s command line: render the configs named by its `--config.file` and `--web.config.file`, point those arguments at the rendered copies, start it once every secret has a value, keep values fresh and reload it (SIGHUP) when something changed'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and not __fish_seen_subcommand_from render check run watch extract rotate store completions man help" -f -a "watch" -d 'Keep rendered configs fresh without a child (the sidecar after an init container): the same loop as `run`, reloading a process by pid or pid file, or by an HTTP POST'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and not __fish_seen_subcommand_from render check run watch extract rotate store completions man help" -f -a "extract" -d 'Move inline secrets into a store and rewrite the config to provider maps, changing only the secret values\' text (comments, blank lines, key order and quoting are kept)'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and not __fish_seen_subcommand_from render check run watch extract rotate store completions man help" -f -a "rotate" -d 'Write a new random value (from the OS CSPRNG) as a new version of a secret; the previous version stays readable where the store keeps versions. Prints what it did, never the value'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and not __fish_seen_subcommand_from render check run watch extract rotate store completions man help" -f -a "store" -d 'Read, write or delete one secret from a script. Values are read from stdin or `--from-file`, never from the command line, and printed only with `--reveal`'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and not __fish_seen_subcommand_from render check run watch extract rotate store completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and not __fish_seen_subcommand_from render check run watch extract rotate store completions man help" -f -a "man" -d 'Print the man page in roff (for the whole tool, or for one subcommand)'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and not __fish_seen_subcommand_from render check run watch extract rotate store completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and __fish_seen_subcommand_from store" -f -a "get" -d 'Show a secret\'s keys and lengths (never the value), or with `--reveal` the value itself'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and __fish_seen_subcommand_from store" -f -a "put" -d 'Write a value (from stdin, or `--from-file`) as a new version of the secret, byte for byte: a final newline is written too (and warned about; `printf %s` has none). With `key` the secret\'s other keys are kept; without, a secret of several keys is refused'
complete -c secret-render -n "__fish_secret_render_using_subcommand help; and __fish_seen_subcommand_from store" -f -a "delete" -d 'Delete the secret\'s `key` (as a new version), or without a key its current version'
