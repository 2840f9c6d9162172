use clap::Parser;

fn main() -> std::process::ExitCode {
    mcpstorm::cli::main(mcpstorm::cli::Cli::parse())
}
