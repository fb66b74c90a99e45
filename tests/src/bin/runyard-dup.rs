//! The `runyard` binary, built inside the test package so tests can find it.
fn main() -> std::process::ExitCode {
    runyard_cli::main_impl()
}
