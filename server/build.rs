//! Compiles the C port of Redis's long-double number handling (see csrc/redis_float.c).
fn main() {
    println!("cargo:rerun-if-changed=csrc/redis_float.c");
    cc::Build::new().file("csrc/redis_float.c").warnings(true).compile("redis_float");
}
