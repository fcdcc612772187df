// `sqlx::migrate!` embeds migrations/ at compile time; without this, adding a migration does
// not rebuild the crate and the binary runs without it (as `sqlx migrate build-script` writes).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
