//! `netbpfload` binary entry point.
fn main() {
    std::process::exit(1);
}
