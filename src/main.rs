//! The `skipless` binary: parses the command line and runs it ([`skipless::cli::run`]), printing
//! an error as one line.

use clap::Parser;

fn main() {
    // Candle gives its CPU ops a thread pool of their own that spins between ops. The
    // recommender already spreads its work over every core at a coarser grain (rayon: parts of
    // a walk, rows of a batch), and the two pools spinning against each other cost a retrain a
    // sixth of its time; so candle's ops run on the thread that calls them, unless asked.
    // This runs before any thread is started, so no one reads the environment meanwhile.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    // Every candle matrix product asks how many threads rayon has: without this variable the
    // answer is worked out by reading /proc/cpuinfo, a file read per product (tens of thousands
    // in a retrain). Set to what rayon would choose anyway, it is read from memory.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        std::env::set_var("RAYON_NUM_THREADS", cores.to_string());
    }
    // An empty SKIPLESS_DATA_DIR (`SKIPLESS_DATA_DIR= skipless …`, or a script's unset
    // variable exported empty) means the default, as an empty XDG_DATA_HOME does, not a
    // `--data-dir` given no value.
    if std::env::var_os("SKIPLESS_DATA_DIR").is_some_and(|dir| dir.is_empty()) {
        std::env::remove_var("SKIPLESS_DATA_DIR");
    }
    let cli = skipless::cli::Cli::parse();
    if let Err(error) = skipless::cli::run(cli) {
        skipless::cli::say_error(&error);
        std::process::exit(skipless::cli::exit_status(&error));
    }
}
