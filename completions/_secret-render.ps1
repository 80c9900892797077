
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
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page in roff (for the whole tool, or for one subcommand)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'secret-render;render' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Output directory, created 0700 [default: $XDG_RUNTIME_DIR/secret-render, else /run/secret-render]. Refused when it is a symlink, owned by another user, or writable by group or others')
            [CompletionResult]::new('--file-mode', '--file-mode', [CompletionResultType]::ParameterName, 'Mode of secret files and rendered configs, in octal (for a target running as another user: `0640` with `--file-group`)')
            [CompletionResult]::new('--file-group', '--file-group', [CompletionResultType]::ParameterName, 'Group (numeric id) to give secret files and rendered configs')
            [CompletionResult]::new('--max-concurrency', '--max-concurrency', [CompletionResultType]::ParameterName, 'Most concurrent fetches per provider and store')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
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
        'secret-render;completions' {
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The program that reads the rendered config, and its version: `prometheus`, `prometheus@2.42`, `alertmanager@0.25`, `generic`. Decides which fields have a `_file` sibling. Default: detected from each config''s shape, at the oldest version known')
            [CompletionResult]::new('--stores', '--stores', [CompletionResultType]::ParameterName, 'A YAML file holding `secret_stores:` (the same key a config may hold), for stores shared by several configs')
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
