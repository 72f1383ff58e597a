//! `qemu-pininfo [DIR]`: prints what the kernel says of every pin under DIR
//! (default `/sys/fs/bpf`), one console line each, for the QEMU tier's host
//! harness (`tests/src/qemu.rs` parses them):
//!
//! ```text
//! INFO map <path> type=<t> key=<k> value=<v> max=<n> flags=<hex> btf=<id>
//! INFO prog <path> type=<t>
//! INFO error <path> <what>: errno <e>
//! ```
//!
//! Each pin is opened read-only with `BPF_OBJ_GET`; whether it is a map or a
//! program, and its attributes, come from `/proc/self/fdinfo/<fd>` (the
//! kernel's own description of the fd); a map's BTF id from
//! `BPF_OBJ_GET_INFO_BY_FD`. No dependency but std: `bpf(2)` goes through
//! libc's `syscall`.

use std::ffi::CString;
use std::os::raw::{c_int, c_long};
use std::path::Path;

#[cfg(target_arch = "x86_64")]
const SYS_BPF: c_long = 321;
#[cfg(target_arch = "aarch64")]
const SYS_BPF: c_long = 280;

const BPF_OBJ_GET: c_long = 7;
const BPF_OBJ_GET_INFO_BY_FD: c_long = 15;
const BPF_F_RDONLY: u32 = 1 << 3;

extern "C" {
    fn syscall(num: c_long, ...) -> c_long;
}

/// `bpf(cmd, attr, sizeof attr)`; the attr is 128 zeroed bytes with the
/// command's fields in front (kernels accept a zero tail).
fn bpf(cmd: c_long, attr: &mut [u64; 16]) -> Result<c_long, i32> {
    // SAFETY: `attr` is a valid, writable 128-byte buffer for the whole call;
    // the kernel reads (and for GET_INFO writes through pointers we set to
    // our own live buffers) at most that many bytes.
    let r = unsafe { syscall(SYS_BPF, cmd, attr.as_mut_ptr(), 128usize) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}

struct Fd(c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        extern "C" {
            fn close(fd: c_int) -> c_int;
        }
        // SAFETY: we own this fd and close it once.
        unsafe {
            close(self.0);
        }
    }
}

fn obj_get(path: &Path) -> Result<Fd, i32> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| 22)?;
    let mut attr = [0u64; 16];
    attr[0] = c.as_ptr() as u64;
    attr[1] = u64::from(BPF_F_RDONLY) << 32; // bpf_fd = 0, file_flags
    let fd = bpf(BPF_OBJ_GET, &mut attr)?;
    Ok(Fd(c_int::try_from(fd).map_err(|_| 9)?))
}

/// `btf_id` of a map (offset 64 of `struct bpf_map_info`), 0 if none.
fn map_btf_id(fd: &Fd) -> Result<u32, i32> {
    let mut info = [0u8; 88];
    let mut attr = [0u64; 16];
    attr[0] = u64::from(fd.0 as u32) | ((info.len() as u64) << 32);
    attr[1] = info.as_mut_ptr() as u64;
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    let b = info.get(64..68).ok_or(5)?;
    Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fn fdinfo(fd: &Fd) -> Vec<(String, String)> {
    std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.0))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn describe(path: &Path) -> String {
    let p = path.display();
    let fd = match obj_get(path) {
        Ok(fd) => fd,
        Err(e) => return format!("INFO error {p} BPF_OBJ_GET: errno {e}"),
    };
    let info = fdinfo(&fd);
    let get = |k: &str| {
        info.iter()
            .find(|(key, _)| key == k)
            .map_or("?", |(_, v)| v.as_str())
    };
    if get("map_type") != "?" {
        let btf = match map_btf_id(&fd) {
            Ok(id) => id.to_string(),
            Err(e) => format!("errno{e}"),
        };
        // fdinfo prints map_flags as 0x%x.
        format!(
            "INFO map {p} type={} key={} value={} max={} flags={} btf={btf}",
            get("map_type"),
            get("key_size"),
            get("value_size"),
            get("max_entries"),
            get("map_flags"),
        )
    } else if get("prog_type") != "?" {
        format!("INFO prog {p} type={}", get("prog_type"))
    } else {
        format!("INFO error {p} fdinfo: neither map_type nor prog_type")
    }
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        out.push(format!("INFO error {} read_dir: failed", dir.display()));
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out),
            Ok(_) => out.push(describe(&path)),
            Err(_) => out.push(format!("INFO error {} lstat: failed", path.display())),
        }
    }
}

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .unwrap_or_else(|| "/sys/fs/bpf".into());
    let mut out = Vec::new();
    walk(Path::new(&root), &mut out);
    for line in out {
        println!("{line}");
    }
}
