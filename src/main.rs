fn main() {
    let code = converge::app::main_with_args(std::env::args().collect());
    std::process::exit(code);
}
