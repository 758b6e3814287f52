fn main() {
    std::process::exit(tent::run());
}
