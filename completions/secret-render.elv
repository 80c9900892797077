
use builtin;
use str;

set edit:completion:arg-completer[secret-render] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'secret-render'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'secret-render'= {
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand render 'Resolve every secret once, write the secret files and the rendered configs, and print the rendered configs'' paths'
            cand check 'Validate every provider map and the rendered result without fetching: placeholder values are rendered into a private temporary directory and checked with `promtool`/`amtool` when they are on PATH'
            cand run 'Wrap a target''s command line: render the configs named by its `--config.file` and `--web.config.file`, point those arguments at the rendered copies, start it once every secret has a value, keep values fresh and reload it (SIGHUP) when something changed'
            cand watch 'Keep rendered configs fresh without a child (the sidecar after an init container): the same loop as `run`, reloading a process by pid or pid file, or by an HTTP POST'
            cand extract 'Move inline secrets into a store and rewrite the config to provider maps, changing only the secret values'' text (comments, blank lines, key order and quoting are kept)'
            cand rotate 'Write a new random value (from the OS CSPRNG) as a new version of a secret; the previous version stays readable where the store keeps versions. Prints what it did, never the value'
            cand store 'Read, write or delete one secret from a script. Values are read from stdin or `--from-file`, never from the command line, and printed only with `--reveal`'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page in roff (for the whole tool, or for one subcommand)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'secret-render;render'= {
            cand --out 'Output directory, created 0700 [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render]. Refused when it is a symlink, owned by another user, or writable by group or others'
            cand --file-mode 'Mode of secret files and rendered configs, in octal (for a target running as another user: `0640` with `--file-group`; read-only `0400`/`0440` work too); at most 0660: nothing for others, no execute bit'
            cand --file-group 'Group (numeric id) to give secret files and rendered configs'
            cand --max-concurrency 'Most concurrent fetches per provider and store'
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand --require-tmpfs 'Fail (exit 5) instead of warning when the output directory is not on tmpfs or ramfs'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'secret-render;check'= {
            cand --format 'Report format: `github` prints workflow commands that annotate the config in a pull request'
            cand --max-concurrency 'Most concurrent fetches per provider and store'
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand --resolve 'Also fetch every secret, proving each exists; the report shows no values'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'secret-render;run'= {
            cand --out 'Output directory for the rendered configs and secret files, as for `render` [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render]'
            cand --file-mode 'Mode of secret files and rendered configs, in octal (for a target running as another user: `0640` with `--file-group`; read-only `0400`/`0440` work too); at most 0660: nothing for others, no execute bit'
            cand --file-group 'Group (numeric id) to give secret files and rendered configs'
            cand --max-concurrency 'Most concurrent fetches per provider and store'
            cand --listen 'Admin HTTP listener: /metrics, /-/healthy, /-/ready, POST /-/refresh[?secret=NAME]. `off` disables it'
            cand --reload-on 'Reload on `any` change (a rendered config or a secret value), or only when a rendered `config` changed (Prometheus re-reads `*_file` secrets on every request)'
            cand --reload-debounce 'Changes within this window make one reload (Go-style duration)'
            cand --watch-targets 'Poll this Prometheus''s targets API and refresh a job''s secrets at once when its targets fail with HTTP 401/403 (e.g. `http://127.0.0.1:9090`)'
            cand --watch-targets-interval 'How often `--watch-targets` polls'
            cand --stop-timeout 'After SIGTERM/SIGINT/SIGQUIT is forwarded, how long the target may take to stop before SIGKILL (a second SIGINT/SIGTERM sends SIGKILL at once)'
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand --require-tmpfs 'Fail (exit 5) instead of warning when the output directory is not on tmpfs or ramfs'
            cand --start-partial 'Start (or keep going) even when some secrets were never fetched: their `_file` paths point at files that do not exist yet, so only the components that need them fail'
            cand --verify-reload 'Confirm each reload through the target''s `/metrics` (`prometheus_config_last_reload_successful` and its success timestamp): the default for Prometheus and Alertmanager, unless their web config asks for TLS or basic auth'
            cand --no-verify-reload 'Do not confirm reloads through the target''s `/metrics`'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'secret-render;watch'= {
            cand --out 'Output directory: the init container''s `render --out` [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render]'
            cand --file-mode 'Mode of secret files and rendered configs, in octal (for a target running as another user: `0640` with `--file-group`; read-only `0400`/`0440` work too); at most 0660: nothing for others, no execute bit'
            cand --file-group 'Group (numeric id) to give secret files and rendered configs'
            cand --max-concurrency 'Most concurrent fetches per provider and store'
            cand --listen 'Admin HTTP listener: /metrics, /-/healthy, /-/ready, POST /-/refresh[?secret=NAME]. `off` disables it'
            cand --reload-on 'Reload on `any` change (a rendered config or a secret value), or only when a rendered `config` changed (Prometheus re-reads `*_file` secrets on every request)'
            cand --reload-debounce 'Changes within this window make one reload (Go-style duration)'
            cand --watch-targets 'Poll this Prometheus''s targets API and refresh a job''s secrets at once when its targets fail with HTTP 401/403 (e.g. `http://127.0.0.1:9090`)'
            cand --watch-targets-interval 'How often `--watch-targets` polls'
            cand --reload-pid 'Send SIGHUP to this process on reload'
            cand --reload-pidfile 'Send SIGHUP to the process whose pid this file holds (re-read on every reload)'
            cand --reload-url 'POST to this URL on reload (e.g. `http://127.0.0.1:9090/-/reload`)'
            cand --verify-url 'Confirm each reload through this `/metrics` URL of the target'
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand --require-tmpfs 'Fail (exit 5) instead of warning when the output directory is not on tmpfs or ramfs'
            cand --start-partial 'Start (or keep going) even when some secrets were never fetched: their `_file` paths point at files that do not exist yet, so only the components that need them fail'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'secret-render;extract'= {
            cand --to 'Where the values go: a store under `secret_stores` (in the config or `--stores`), or a provider with its environment defaults (`vault`: VAULT_ADDR/VAULT_TOKEN, mount `secret`; `aws_secrets_manager`, `kubernetes`, `gcp_secret_manager`)'
            cand --path-template 'Store path of each value; the last `/` separates the key. Placeholders: `{config}` (file stem), `{job}`/`{job_name}` (enclosing `job_name`/`name`, else the parent path), `{field}`, `{path}` (the whole YAML path)'
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand --write 'Write the values and replace the config atomically (default: print the diff only)'
            cand --backup 'With `--write`, keep the original as `CONFIG.bak-<unix time>` (mode 0600)'
            cand --overwrite 'Replace store keys that already hold a different value'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'secret-render;rotate'= {
            cand --length 'Length of the new value, in characters'
            cand --charset 'Characters the new value is drawn from'
            cand --bcrypt-web-config 'A Prometheus web config whose `basic_auth_users` entry for `--user` gets the new value''s bcrypt hash (cost 10)'
            cand --user 'The user of `--bcrypt-web-config`'
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand --create 'Write the value even when the secret or its key does not exist yet (it is created), or cannot be read first (a role allowed to write and not to read)'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'secret-render;store'= {
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand get 'Show a secret''s keys and lengths (never the value), or with `--reveal` the value itself'
            cand put 'Write a value (from stdin, or `--from-file`) as a new version of the secret, byte for byte: a final newline is written too (and warned about; `printf %s` has none). With `key` the secret''s other keys are kept; without, a secret of several keys is refused'
            cand delete 'Delete the secret''s `key` (as a new version), or without a key its current version'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'secret-render;store;get'= {
            cand --version 'Read this version (Vault KV v2)'
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand --reveal 'Print the value to stdout'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'secret-render;store;put'= {
            cand --from-file 'Read the value from this file instead of stdin'
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'secret-render;store;delete'= {
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'secret-render;store;help'= {
            cand get 'Show a secret''s keys and lengths (never the value), or with `--reveal` the value itself'
            cand put 'Write a value (from stdin, or `--from-file`) as a new version of the secret, byte for byte: a final newline is written too (and warned about; `printf %s` has none). With `key` the secret''s other keys are kept; without, a secret of several keys is refused'
            cand delete 'Delete the secret''s `key` (as a new version), or without a key its current version'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'secret-render;store;help;get'= {
        }
        &'secret-render;store;help;put'= {
        }
        &'secret-render;store;help;delete'= {
        }
        &'secret-render;store;help;help'= {
        }
        &'secret-render;completions'= {
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'secret-render;man'= {
            cand --target 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known'
            cand --stores 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs'
            cand --file-root 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path'
            cand --log-format 'Log format on stderr'
            cand -v 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand --verbose 'More log detail (-v debug, -vv trace). Secret values are never logged at any level'
            cand -q 'Less log detail (-q warnings only, -qq errors only)'
            cand --quiet 'Less log detail (-q warnings only, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'secret-render;help'= {
            cand render 'Resolve every secret once, write the secret files and the rendered configs, and print the rendered configs'' paths'
            cand check 'Validate every provider map and the rendered result without fetching: placeholder values are rendered into a private temporary directory and checked with `promtool`/`amtool` when they are on PATH'
            cand run 'Wrap a target''s command line: render the configs named by its `--config.file` and `--web.config.file`, point those arguments at the rendered copies, start it once every secret has a value, keep values fresh and reload it (SIGHUP) when something changed'
            cand watch 'Keep rendered configs fresh without a child (the sidecar after an init container): the same loop as `run`, reloading a process by pid or pid file, or by an HTTP POST'
            cand extract 'Move inline secrets into a store and rewrite the config to provider maps, changing only the secret values'' text (comments, blank lines, key order and quoting are kept)'
            cand rotate 'Write a new random value (from the OS CSPRNG) as a new version of a secret; the previous version stays readable where the store keeps versions. Prints what it did, never the value'
            cand store 'Read, write or delete one secret from a script. Values are read from stdin or `--from-file`, never from the command line, and printed only with `--reveal`'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page in roff (for the whole tool, or for one subcommand)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'secret-render;help;render'= {
        }
        &'secret-render;help;check'= {
        }
        &'secret-render;help;run'= {
        }
        &'secret-render;help;watch'= {
        }
        &'secret-render;help;extract'= {
        }
        &'secret-render;help;rotate'= {
        }
        &'secret-render;help;store'= {
            cand get 'Show a secret''s keys and lengths (never the value), or with `--reveal` the value itself'
            cand put 'Write a value (from stdin, or `--from-file`) as a new version of the secret, byte for byte: a final newline is written too (and warned about; `printf %s` has none). With `key` the secret''s other keys are kept; without, a secret of several keys is refused'
            cand delete 'Delete the secret''s `key` (as a new version), or without a key its current version'
        }
        &'secret-render;help;store;get'= {
        }
        &'secret-render;help;store;put'= {
        }
        &'secret-render;help;store;delete'= {
        }
        &'secret-render;help;completions'= {
        }
        &'secret-render;help;man'= {
        }
        &'secret-render;help;help'= {
        }
    ]
    $completions[$command]
}
