fn main() -> std::process::ExitCode {
    runyard_cli::main_impl()
}
