
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'secret-render' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'secret-render'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'secret-render' {
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('render', 'render', [CompletionResultType]::ParameterValue, 'Resolve every secret once, write the secret files and the rendered configs, and print the rendered configs'' paths')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate every provider map and the rendered result without fetching: placeholder values are rendered into a private temporary directory and checked with `promtool`/`amtool` when they are on PATH')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Wrap a target''s command line: render the configs named by its `--config.file` and `--web.config.file`, point those arguments at the rendered copies, start it once every secret has a value, keep values fresh and reload it (SIGHUP) when something changed')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Keep rendered configs fresh without a child (the sidecar after an init container): the same loop as `run`, reloading a process by pid or pid file, or by an HTTP POST')
            [CompletionResult]::new('extract', 'extract', [CompletionResultType]::ParameterValue, 'Move inline secrets into a store and rewrite the config to provider maps, changing only the secret values'' text (comments, blank lines, key order and quoting are kept)')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Write a new random value (from the OS CSPRNG) as a new version of a secret; the previous version stays readable where the store keeps versions. Prints what it did, never the value')
            [CompletionResult]::new('store', 'store', [CompletionResultType]::ParameterValue, 'Read, write or delete one secret from a script. Values are read from stdin or `--from-file`, never from the command line, and printed only with `--reveal`')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page in roff (for the whole tool, or for one subcommand)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'secret-render;render' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Output directory, created 0700 [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render]. Refused when it is a symlink, owned by another user, or writable by group or others')
            [CompletionResult]::new('--file-mode', '--file-mode', [CompletionResultType]::ParameterName, 'Mode of secret files and rendered configs, in octal (for a target running as another user: `0640` with `--file-group`; read-only `0400`/`0440` work too); at most 0660: nothing for others, no execute bit')
            [CompletionResult]::new('--file-group', '--file-group', [CompletionResultType]::ParameterName, 'Group (numeric id) to give secret files and rendered configs')
            [CompletionResult]::new('--max-concurrency', '--max-concurrency', [CompletionResultType]::ParameterName, 'Most concurrent fetches per provider and store')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--require-tmpfs', '--require-tmpfs', [CompletionResultType]::ParameterName, 'Fail (exit 5) instead of warning when the output directory is not on tmpfs or ramfs')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'secret-render;check' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Report format: `github` prints workflow commands that annotate the config in a pull request')
            [CompletionResult]::new('--max-concurrency', '--max-concurrency', [CompletionResultType]::ParameterName, 'Most concurrent fetches per provider and store')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Also fetch every secret, proving each exists; the report shows no values')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'secret-render;run' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Output directory for the rendered configs and secret files, as for `render` [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render]')
            [CompletionResult]::new('--file-mode', '--file-mode', [CompletionResultType]::ParameterName, 'Mode of secret files and rendered configs, in octal (for a target running as another user: `0640` with `--file-group`; read-only `0400`/`0440` work too); at most 0660: nothing for others, no execute bit')
            [CompletionResult]::new('--file-group', '--file-group', [CompletionResultType]::ParameterName, 'Group (numeric id) to give secret files and rendered configs')
            [CompletionResult]::new('--max-concurrency', '--max-concurrency', [CompletionResultType]::ParameterName, 'Most concurrent fetches per provider and store')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Admin HTTP listener: /metrics, /-/healthy, /-/ready, POST /-/refresh[?secret=NAME]. `off` disables it')
            [CompletionResult]::new('--reload-on', '--reload-on', [CompletionResultType]::ParameterName, 'Reload on `any` change (a rendered config or a secret value), or only when a rendered `config` changed (Prometheus re-reads `*_file` secrets on every request)')
            [CompletionResult]::new('--reload-debounce', '--reload-debounce', [CompletionResultType]::ParameterName, 'Changes within this window make one reload (Go-style duration)')
            [CompletionResult]::new('--watch-targets', '--watch-targets', [CompletionResultType]::ParameterName, 'Poll this Prometheus''s targets API and refresh a job''s secrets at once when its targets fail with HTTP 401/403 (e.g. `http://127.0.0.1:9090`)')
            [CompletionResult]::new('--watch-targets-interval', '--watch-targets-interval', [CompletionResultType]::ParameterName, 'How often `--watch-targets` polls')
            [CompletionResult]::new('--stop-timeout', '--stop-timeout', [CompletionResultType]::ParameterName, 'After SIGTERM/SIGINT/SIGQUIT is forwarded, how long the target may take to stop before SIGKILL (a second SIGINT/SIGTERM sends SIGKILL at once)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--require-tmpfs', '--require-tmpfs', [CompletionResultType]::ParameterName, 'Fail (exit 5) instead of warning when the output directory is not on tmpfs or ramfs')
            [CompletionResult]::new('--start-partial', '--start-partial', [CompletionResultType]::ParameterName, 'Start (or keep going) even when some secrets were never fetched: their `_file` paths point at files that do not exist yet, so only the components that need them fail')
            [CompletionResult]::new('--verify-reload', '--verify-reload', [CompletionResultType]::ParameterName, 'Confirm each reload through the target''s `/metrics` (`prometheus_config_last_reload_successful` and its success timestamp): the default for Prometheus and Alertmanager, unless their web config asks for TLS or basic auth')
            [CompletionResult]::new('--no-verify-reload', '--no-verify-reload', [CompletionResultType]::ParameterName, 'Do not confirm reloads through the target''s `/metrics`')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'secret-render;watch' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Output directory: the init container''s `render --out` [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render]')
            [CompletionResult]::new('--file-mode', '--file-mode', [CompletionResultType]::ParameterName, 'Mode of secret files and rendered configs, in octal (for a target running as another user: `0640` with `--file-group`; read-only `0400`/`0440` work too); at most 0660: nothing for others, no execute bit')
            [CompletionResult]::new('--file-group', '--file-group', [CompletionResultType]::ParameterName, 'Group (numeric id) to give secret files and rendered configs')
            [CompletionResult]::new('--max-concurrency', '--max-concurrency', [CompletionResultType]::ParameterName, 'Most concurrent fetches per provider and store')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Admin HTTP listener: /metrics, /-/healthy, /-/ready, POST /-/refresh[?secret=NAME]. `off` disables it')
            [CompletionResult]::new('--reload-on', '--reload-on', [CompletionResultType]::ParameterName, 'Reload on `any` change (a rendered config or a secret value), or only when a rendered `config` changed (Prometheus re-reads `*_file` secrets on every request)')
            [CompletionResult]::new('--reload-debounce', '--reload-debounce', [CompletionResultType]::ParameterName, 'Changes within this window make one reload (Go-style duration)')
            [CompletionResult]::new('--watch-targets', '--watch-targets', [CompletionResultType]::ParameterName, 'Poll this Prometheus''s targets API and refresh a job''s secrets at once when its targets fail with HTTP 401/403 (e.g. `http://127.0.0.1:9090`)')
            [CompletionResult]::new('--watch-targets-interval', '--watch-targets-interval', [CompletionResultType]::ParameterName, 'How often `--watch-targets` polls')
            [CompletionResult]::new('--reload-pid', '--reload-pid', [CompletionResultType]::ParameterName, 'Send SIGHUP to this process on reload')
            [CompletionResult]::new('--reload-pidfile', '--reload-pidfile', [CompletionResultType]::ParameterName, 'Send SIGHUP to the process whose pid this file holds (re-read on every reload)')
            [CompletionResult]::new('--reload-url', '--reload-url', [CompletionResultType]::ParameterName, 'POST to this URL on reload (e.g. `http://127.0.0.1:9090/-/reload`)')
            [CompletionResult]::new('--verify-url', '--verify-url', [CompletionResultType]::ParameterName, 'Confirm each reload through this `/metrics` URL of the target')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--require-tmpfs', '--require-tmpfs', [CompletionResultType]::ParameterName, 'Fail (exit 5) instead of warning when the output directory is not on tmpfs or ramfs')
            [CompletionResult]::new('--start-partial', '--start-partial', [CompletionResultType]::ParameterName, 'Start (or keep going) even when some secrets were never fetched: their `_file` paths point at files that do not exist yet, so only the components that need them fail')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'secret-render;extract' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Where the values go: a store under `secret_stores` (in the config or `--stores`), or a provider with its environment defaults (`vault`: VAULT_ADDR/VAULT_TOKEN, mount `secret`; `aws_secrets_manager`, `kubernetes`, `gcp_secret_manager`)')
            [CompletionResult]::new('--path-template', '--path-template', [CompletionResultType]::ParameterName, 'Store path of each value; the last `/` separates the key. Placeholders: `{config}` (file stem), `{job}`/`{job_name}` (enclosing `job_name`/`name`, else the parent path), `{field}`, `{path}` (the whole YAML path)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Write the values and replace the config atomically (default: print the diff only)')
            [CompletionResult]::new('--backup', '--backup', [CompletionResultType]::ParameterName, 'With `--write`, keep the original as `CONFIG.bak-<unix time>` (mode 0600)')
            [CompletionResult]::new('--overwrite', '--overwrite', [CompletionResultType]::ParameterName, 'Replace store keys that already hold a different value')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'secret-render;rotate' {
            [CompletionResult]::new('--length', '--length', [CompletionResultType]::ParameterName, 'Length of the new value, in characters')
            [CompletionResult]::new('--charset', '--charset', [CompletionResultType]::ParameterName, 'Characters the new value is drawn from')
            [CompletionResult]::new('--bcrypt-web-config', '--bcrypt-web-config', [CompletionResultType]::ParameterName, 'A Prometheus web config whose `basic_auth_users` entry for `--user` gets the new value''s bcrypt hash (cost 10)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The user of `--bcrypt-web-config`')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--create', '--create', [CompletionResultType]::ParameterName, 'Write the value even when the secret or its key does not exist yet (it is created), or cannot be read first (a role allowed to write and not to read)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'secret-render;store' {
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show a secret''s keys and lengths (never the value), or with `--reveal` the value itself')
            [CompletionResult]::new('put', 'put', [CompletionResultType]::ParameterValue, 'Write a value (from stdin, or `--from-file`) as a new version of the secret, byte for byte: a final newline is written too (and warned about; `printf %s` has none). With `key` the secret''s other keys are kept; without, a secret of several keys is refused')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete the secret''s `key` (as a new version), or without a key its current version')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'secret-render;store;get' {
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Read this version (Vault KV v2)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('--reveal', '--reveal', [CompletionResultType]::ParameterName, 'Print the value to stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'secret-render;store;put' {
            [CompletionResult]::new('--from-file', '--from-file', [CompletionResultType]::ParameterName, 'Read the value from this file instead of stdin')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'secret-render;store;delete' {
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'secret-render;store;help' {
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show a secret''s keys and lengths (never the value), or with `--reveal` the value itself')
            [CompletionResult]::new('put', 'put', [CompletionResultType]::ParameterValue, 'Write a value (from stdin, or `--from-file`) as a new version of the secret, byte for byte: a final newline is written too (and warned about; `printf %s` has none). With `key` the secret''s other keys are kept; without, a secret of several keys is refused')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete the secret''s `key` (as a new version), or without a key its current version')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'secret-render;store;help;get' {
            break
        }
        'secret-render;store;help;put' {
            break
        }
        'secret-render;store;help;delete' {
            break
        }
        'secret-render;store;help;help' {
            break
        }
        'secret-render;completions' {
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'secret-render;man' {
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
            [CompletionResult]::new('--file-root', '--file-root', [CompletionResultType]::ParameterName, 'Only read `file` secrets whose real path (symlinks and `..` resolved) lies under this directory; repeatable. Default: any path')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log detail (-v debug, -vv trace). Secret values are never logged at any level')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less log detail (-q warnings only, -qq errors only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'secret-render;help' {
            [CompletionResult]::new('render', 'render', [CompletionResultType]::ParameterValue, 'Resolve every secret once, write the secret files and the rendered configs, and print the rendered configs'' paths')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate every provider map and the rendered result without fetching: placeholder values are rendered into a private temporary directory and checked with `promtool`/`amtool` when they are on PATH')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Wrap a target''s command line: render the configs named by its `--config.file` and `--web.config.file`, point those arguments at the rendered copies, start it once every secret has a value, keep values fresh and reload it (SIGHUP) when something changed')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Keep rendered configs fresh without a child (the sidecar after an init container): the same loop as `run`, reloading a process by pid or pid file, or by an HTTP POST')
            [CompletionResult]::new('extract', 'extract', [CompletionResultType]::ParameterValue, 'Move inline secrets into a store and rewrite the config to provider maps, changing only the secret values'' text (comments, blank lines, key order and quoting are kept)')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Write a new random value (from the OS CSPRNG) as a new version of a secret; the previous version stays readable where the store keeps versions. Prints what it did, never the value')
            [CompletionResult]::new('store', 'store', [CompletionResultType]::ParameterValue, 'Read, write or delete one secret from a script. Values are read from stdin or `--from-file`, never from the command line, and printed only with `--reveal`')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page in roff (for the whole tool, or for one subcommand)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'secret-render;help;render' {
            break
        }
        'secret-render;help;check' {
            break
        }
        'secret-render;help;run' {
            break
        }
        'secret-render;help;watch' {
            break
        }
        'secret-render;help;extract' {
            break
        }
        'secret-render;help;rotate' {
            break
        }
        'secret-render;help;store' {
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show a secret''s keys and lengths (never the value), or with `--reveal` the value itself')
            [CompletionResult]::new('put', 'put', [CompletionResultType]::ParameterValue, 'Write a value (from stdin, or `--from-file`) as a new version of the secret, byte for byte: a final newline is written too (and warned about; `printf %s` has none). With `key` the secret''s other keys are kept; without, a secret of several keys is refused')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete the secret''s `key` (as a new version), or without a key its current version')
            break
        }
        'secret-render;help;store;get' {
            break
        }
        'secret-render;help;store;put' {
            break
        }
        'secret-render;help;store;delete' {
            break
        }
        'secret-render;help;completions' {
            break
        }
        'secret-render;help;man' {
            break
        }
        'secret-render;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
