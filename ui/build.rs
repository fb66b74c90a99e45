//! Builds the web app (`web/`, with npm and Vite) into `$OUT_DIR/ui`, which `src/assets.rs`
//! embeds. `RUNYARD_UI_DIST` names a prebuilt `dist` folder instead; without Node.js the
//! binary embeds a page saying how to build the UI.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let web = Path::new("web");
    for path in
        ["src", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json", "openapi.json"]
    {
        println!("cargo:rerun-if-changed=web/{path}");
    }
    println!("cargo:rerun-if-env-changed=RUNYARD_UI_DIST");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("ui");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("create the UI output folder");

    if let Ok(dist) = std::env::var("RUNYARD_UI_DIST") {
        copy_dir(Path::new(&dist), &out);
        return;
    }
    if Command::new("npm").arg("--version").output().is_err() {
        println!("cargo:warning=npm not found: the web UI is not built (install Node.js 20+ and rebuild)");
        std::fs::write(
            out.join("index.html"),
            "<!doctype html><title>Runyard</title><p>This runyard binary was built without the web UI: \
             install Node.js 20 or later and build it again. The API is at /api/v1.</p>",
        )
        .expect("write the placeholder page");
        return;
    }
    // `npm ci` when the installed modules are missing or older than the lock file.
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    if modified(&installed) < modified(&lock) {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(web));
    }
    run(Command::new("npm").args(["run", "build", "--", "--outDir"]).arg(&out).arg("--emptyOutDir").current_dir(web));
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(status.success(), "{command:?} failed ({status})");
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("RUNYARD_UI_DIST {}: {e}", from.display())) {
        let entry = entry.expect("read RUNYARD_UI_DIST");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            std::fs::create_dir_all(&target).expect("create folder");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}
