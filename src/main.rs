use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(linq_cards::main().code())
}
