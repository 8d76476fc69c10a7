fn main() -> std::process::ExitCode {
    boardnet::cli::main(std::env::args_os())
}
