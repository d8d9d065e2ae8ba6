#![forbid(unsafe_code)]
fn main() {
    println!("fly-placer: not built yet");
}
