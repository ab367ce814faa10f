use clap::Parser;

fn main() {
    let cli = skipless::cli::Cli::parse();
    if let Err(error) = skipless::cli::run(cli) {
        // One line: the error and its causes, joined.
        eprintln!("skipless: error: {error:#}");
        std::process::exit(1);
    }
}
