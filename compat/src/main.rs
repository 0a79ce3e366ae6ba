fn main() {
    std::process::exit(redrock_compat::cli::main());
}
