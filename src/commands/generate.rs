//! `completions` and `man`: generated from the clap definition, so they cannot drift from it.
//! The committed `man/` and `completions/` files are produced by the same functions (a test
//! fails when they are stale).

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Every shell we ship a completion file for, with its file name under `completions/`.
pub const SHELLS: [(Shell, &str); 5] = [
    (Shell::Bash, "secret-render.bash"),
    (Shell::Zsh, "_secret-render"),
    (Shell::Fish, "secret-render.fish"),
    (Shell::Elvish, "secret-render.elv"),
    (Shell::PowerShell, "_secret-render.ps1"),
];

#[must_use]
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "secret-render", &mut out);
    out
}

/// Every man page: `secret-render.1`, one `secret-render-<sub>.1` per subcommand, and one
/// `secret-render-<sub>-<subsub>.1` per subcommand of those (`store get`), which their parent's
/// page names in SEE ALSO.
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut command = Cli::command();
    command.build();
    let mut pages = Vec::new();
    add_pages(&command, "secret-render", &mut pages)?;
    Ok(pages)
}

fn add_pages(command: &clap::Command, name: &str, pages: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone().name(name.to_owned())).render(&mut page)?;
    pages.push((format!("{name}.1"), page));
    for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
        add_pages(sub, &format!("{name}-{}", sub.get_name()), pages)?;
    }
    Ok(())
}

pub fn print_completion(shell: Shell) {
    super::print(&String::from_utf8_lossy(&completion(shell)));
}

pub fn print_man(subcommand: Option<&str>) -> Result<(), String> {
    // `store get`, as typed on a command line, is `store-get`.
    let wanted = match subcommand {
        None => "secret-render.1".to_owned(),
        Some(name) => format!("secret-render-{}.1", name.split_whitespace().collect::<Vec<_>>().join("-")),
    };
    let pages = man_pages().map_err(|error| format!("cannot render the man page: {error}"))?;
    let (_, page) =
        pages.into_iter().find(|(name, _)| *name == wanted).ok_or_else(|| format!("no man page for {wanted}"))?;
    super::print(&String::from_utf8_lossy(&page));
    Ok(())
}
