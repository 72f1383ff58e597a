//! `bpf-progs-install <root>`: writes the corpus's default layout under
//! `<root>` (`apex/com.android.tethering/etc/bpf/<prefix>/*.o` and
//! `system/etc/bpf/*.o`) and prints each file written.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(root), None) = (args.next(), args.next()) else {
        eprintln!("usage: bpf-progs-install <root>");
        return ExitCode::from(2);
    };
    let root = PathBuf::from(root);
    match bpf_progs::install_tree(&root) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bpf-progs-install: {}: {e}", root.display());
            ExitCode::FAILURE
        }
    }
}
