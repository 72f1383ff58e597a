//! Private bpf filesystems for the measurements.
//!
//! The benchmark first enters a mount namespace of its own with every mount
//! private ([`enter_private_mount_ns`]), so nothing it mounts or pins can reach
//! the host's `/sys/fs/bpf`; `scripts/bench.sh` also runs it under
//! `unshare -m --propagation private`.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use std::io;
use std::path::{Path, PathBuf};

/// Moves this process into a new mount namespace whose mounts are all
/// private, so that no bpffs mounted (and nothing pinned) by the benchmark can
/// propagate to the host, whatever the caller did. Must be called while the
/// process is still single-threaded.
pub fn enter_private_mount_ns() -> io::Result<()> {
    let before = std::fs::read_link("/proc/self/ns/mnt")?;
    unshare(CloneFlags::CLONE_NEWNS)
        .map_err(|e| io::Error::other(format!("unshare(CLONE_NEWNS): {e}")))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| io::Error::other(format!("make / rprivate: {e}")))?;
    let after = std::fs::read_link("/proc/self/ns/mnt")?;
    if before == after {
        return Err(io::Error::other("still in the original mount namespace"));
    }
    Ok(())
}

/// A fresh bpffs mounted at a directory; unmounted (which frees everything
/// pinned in it) on drop.
#[derive(Debug)]
pub struct BpfMount {
    path: PathBuf,
}

impl BpfMount {
    /// Creates `path` and mounts a new bpf filesystem on it.
    pub fn new(path: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(path)?;
        mount(
            Some("bpf"),
            path,
            Some("bpf"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(|e| io::Error::other(format!("mount bpffs on {}: {e}", path.display())))?;
        Ok(BpfMount {
            path: path.to_path_buf(),
        })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry under the mount (directories end in `/`), relative and
    /// sorted, for comparing the pins two runs left behind.
    pub fn list(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        walk(&self.path, "", &mut out)?;
        out.sort();
        Ok(out)
    }
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel_name = format!("{rel}{name}");
        if entry.file_type()?.is_dir() {
            out.push(format!("{rel_name}/"));
            walk(&entry.path(), &format!("{rel_name}/"), out)?;
        } else {
            out.push(rel_name);
        }
    }
    Ok(())
}

impl Drop for BpfMount {
    fn drop(&mut self) {
        if let Err(e) = umount2(&self.path, MntFlags::empty()) {
            eprintln!("bench: umount {}: {e}", self.path.display());
        }
    }
}
