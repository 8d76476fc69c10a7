//! Release builds of the `boardnet` binary on Linux link without unwind tables
//! (build/no-unwind-tables.ld): the release profile aborts on panic, so nothing unwinds, and
//! the binary is stripped, so a backtrace would have no names. Tests, examples and debug
//! builds (which unwind) keep them; so does the library, whatever links it. (Build scripts
//! see the target's panic strategy, not the profile's, so the profile is what is tested.)

fn main() {
    println!("cargo:rerun-if-changed=build/no-unwind-tables.ld");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if release && linux {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/build/no-unwind-tables.ld");
        println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{script}");
    }
}
