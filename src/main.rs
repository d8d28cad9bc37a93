//! Entry point: no subcommand serves RunFunction; subcommands work offline.

fn main() -> std::process::ExitCode {
    let req = function_event_driven_service::proto::v1::RunFunctionRequest::default();
    println!("{:?}", function_event_driven_service::function::run(&req, std::time::Duration::from_secs(60)));
    std::process::ExitCode::SUCCESS
}
