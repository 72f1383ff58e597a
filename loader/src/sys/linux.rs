//! The real kernel: [`LinuxSys`] implements [`super::Sys`] with `bpf(2)` through
//! `libc::syscall(SYS_bpf, ...)` and nix for filesystem operations.
//!
//! Kernel ABI structures (`bpf_attr`, `bpf_map_info`, `bpf_prog_info`) come
//! from `aya_obj::generated`, so the layouts are the UAPI ones. The attribute
//! size passed to the kernel is `size_of::<bpf_attr>()`; older kernels accept a
//! larger attr as long as the bytes they do not know are zero, which they are
//! because every attr starts zeroed.

use super::{
    Bpf, Credentials, FileStat, Files, FsInfo, Machine, MapCreateAttr, MapInfo, ObjKind, Op,
    PinHandle, Process, ProgInfo, ProgLoadAttr, SysError, SysResult,
};
use aya_obj::generated::{bpf_attr, bpf_cmd, bpf_map_info, bpf_prog_info};
use nix::errno::Errno;
use nix::sys::stat::{FchmodatFlags, Mode};
use std::ffi::{CString, OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The running kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxSys;

impl LinuxSys {
    /// A handle on the running kernel.
    pub const fn new() -> Self {
        LinuxSys
    }
}

fn nix_err(op: Op, path: Option<&Path>, e: Errno) -> SysError {
    SysError::from_errno(op, path, e as i32)
}

fn io_err(op: Op, path: &Path, e: std::io::Error) -> SysError {
    SysError::io(op, Some(path), e)
}

fn cpath(op: Op, path: &Path) -> SysResult<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SysError::from_errno(op, Some(path), libc::EINVAL))
}

/// A zeroed `bpf_attr`.
fn zeroed_attr() -> bpf_attr {
    // SAFETY: `bpf_attr` is a C union of plain integer/array structs; the
    // all-zero bit pattern is a valid value of every member, and the kernel
    // requires unused bytes to be zero.
    unsafe { std::mem::zeroed() }
}

/// Copies `name` into a kernel `char[16]` object name (NUL-terminated,
/// truncated to 15 bytes).
fn copy_name(dst: &mut [libc::c_char; 16], name: &str) {
    for (d, s) in dst.iter_mut().zip(name.bytes().take(15)) {
        *d = s as libc::c_char;
    }
}

/// A kernel `char[16]` object name (NUL-terminated unless full) as text;
/// the kernel only accepts ASCII alphanumerics, `_` and `.` in it.
fn c_name(name: &[libc::c_char; 16]) -> String {
    // `c_char` is i8 on x86 and u8 on Arm: take its byte either way.
    name.iter()
        .map(|c| u8::from_ne_bytes(c.to_ne_bytes()))
        .take_while(|&b| b != 0)
        .map(char::from)
        .collect()
}

/// `bpf(cmd, attr, sizeof(*attr))`.
fn sys_bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> Result<libc::c_long, Errno> {
    // SAFETY: `attr` is a valid, exclusively borrowed `bpf_attr` of the size we
    // pass; every pointer stored in it (paths, buffers, instructions) points
    // into memory the caller keeps alive and correctly sized for the duration
    // of this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_int,
            attr as *mut bpf_attr,
            std::mem::size_of::<bpf_attr>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// A `bpf()` command that returns a new file descriptor.
fn sys_bpf_fd(
    op: Op,
    path: Option<&Path>,
    cmd: bpf_cmd,
    attr: &mut bpf_attr,
) -> SysResult<OwnedFd> {
    let ret = sys_bpf(cmd, attr).map_err(|e| nix_err(op, path, e))?;
    let fd = libc::c_int::try_from(ret).map_err(|_| SysError::from_errno(op, path, libc::EBADF))?;
    // SAFETY: on success these commands return a new file descriptor that
    // nothing else owns; wrapping it makes us its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `BPF_OBJ_GET_INFO_BY_FD` into a `T` (`bpf_map_info` / `bpf_prog_info`).
fn obj_info<T: Copy>(op: Op, fd: BorrowedFd<'_>, info: &mut T) -> SysResult<()> {
    let mut attr = zeroed_attr();
    let len = u32::try_from(std::mem::size_of::<T>())
        .map_err(|_| SysError::from_errno(op, None, libc::EINVAL))?;
    attr.info.bpf_fd = fd.as_raw_fd() as u32;
    attr.info.info_len = len;
    attr.info.info = info as *mut T as u64;
    sys_bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr).map_err(|e| nix_err(op, None, e))?;
    Ok(())
}

/// `BPF_OBJ_GET` opens whatever is pinned, and `BPF_OBJ_GET_INFO_BY_FD`
/// answers for whatever object the fd is, writing a `bpf_prog_info` into a
/// buffer meant for a `bpf_map_info` if a program is pinned where a map is
/// expected. The fd's anon-inode name tells the kinds apart
/// (`anon_inode:bpf-map`, `anon_inode:bpf-prog`); if `/proc` is not
/// available the check is skipped and the caller's field comparison still
/// fails. Only fds from pins need it: the loader knows what it created, so
/// `map_info`/`prog_info` do not repeat the check (one `readlink` per pin
/// opened, not two: it showed in the warm boot's cost).
fn check_fd_kind(op: Op, path: &Path, fd: BorrowedFd<'_>, kind: ObjKind) -> SysResult<()> {
    let want: &[u8] = match kind {
        ObjKind::Map => b"anon_inode:bpf-map",
        ObjKind::Prog => b"anon_inode:bpf-prog",
    };
    match std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) {
        Ok(target) if target.as_os_str().as_bytes() != want => {
            Err(SysError::from_errno(op, Some(path), libc::EINVAL))
        }
        _ => Ok(()),
    }
}

fn to_filestat(st: &libc::stat) -> FileStat {
    FileStat {
        uid: st.st_uid,
        gid: st.st_gid,
        mode: st.st_mode,
        dev: st.st_dev,
        ino: st.st_ino,
        size: u64::try_from(st.st_size).unwrap_or(0),
    }
}

impl Bpf for LinuxSys {
    fn map_create(&self, a: &MapCreateAttr) -> SysResult<OwnedFd> {
        let mut attr = zeroed_attr();
        // SAFETY: writing plain integer fields of the map-create member of a
        // zeroed union.
        unsafe {
            let m = &mut attr.__bindgen_anon_1;
            m.map_type = a.map_type;
            m.key_size = a.key_size;
            m.value_size = a.value_size;
            m.max_entries = a.max_entries;
            m.map_flags = a.map_flags;
            copy_name(&mut m.map_name, &a.name);
            if let Some(btf) = &a.btf {
                m.btf_fd = btf.fd as u32;
                m.btf_key_type_id = btf.key_type_id;
                m.btf_value_type_id = btf.value_type_id;
            }
        }
        sys_bpf_fd(Op::MapCreate, None, bpf_cmd::BPF_MAP_CREATE, &mut attr)
    }

    fn prog_load(&self, a: &ProgLoadAttr<'_>, log: &mut [u8]) -> SysResult<OwnedFd> {
        const OP: Op = Op::ProgLoad;
        let license =
            CString::new(a.license).map_err(|_| SysError::from_errno(OP, None, libc::EINVAL))?;
        let insn_cnt = u32::try_from(a.insns.len() / 8)
            .map_err(|_| SysError::from_errno(OP, None, libc::E2BIG))?;
        // The kernel takes the log size as u32; a bigger buffer is just not used fully.
        let log_size = u32::try_from(log.len()).unwrap_or(u32::MAX);
        let mut attr = zeroed_attr();
        // SAFETY: writing plain integer fields of the prog-load member of a
        // zeroed union. `insns`, `license` and `log` outlive the syscall below.
        unsafe {
            let p = &mut attr.__bindgen_anon_3;
            p.prog_type = a.prog_type;
            p.expected_attach_type = a.expected_attach_type;
            p.insn_cnt = insn_cnt;
            p.insns = a.insns.as_ptr() as u64;
            p.license = license.as_ptr() as u64;
            p.kern_version = a.kern_version;
            copy_name(&mut p.prog_name, a.name);
            if !log.is_empty() {
                p.log_level = 1;
                p.log_size = log_size;
                p.log_buf = log.as_mut_ptr() as u64;
            }
        }
        sys_bpf_fd(OP, None, bpf_cmd::BPF_PROG_LOAD, &mut attr)
    }

    fn btf_load(&self, data: &[u8], log: &mut [u8]) -> SysResult<OwnedFd> {
        const OP: Op = Op::BtfLoad;
        let size =
            u32::try_from(data.len()).map_err(|_| SysError::from_errno(OP, None, libc::E2BIG))?;
        let log_size = u32::try_from(log.len()).unwrap_or(u32::MAX);
        let mut attr = zeroed_attr();
        // SAFETY: writing plain integer fields of the BTF-load member of a
        // zeroed union; `data` and `log` outlive the syscall below.
        unsafe {
            let b = &mut attr.__bindgen_anon_7;
            b.btf = data.as_ptr() as u64;
            b.btf_size = size;
            if !log.is_empty() {
                b.btf_log_level = 1;
                b.btf_log_size = log_size;
                b.btf_log_buf = log.as_mut_ptr() as u64;
            }
        }
        sys_bpf_fd(OP, None, bpf_cmd::BPF_BTF_LOAD, &mut attr)
    }

    fn obj_pin(&self, fd: BorrowedFd<'_>, path: &Path) -> SysResult<()> {
        const OP: Op = Op::ObjPin;
        let c = cpath(OP, path)?;
        let mut attr = zeroed_attr();
        // `c` outlives the syscall below.
        attr.__bindgen_anon_4.pathname = c.as_ptr() as u64;
        attr.__bindgen_anon_4.bpf_fd = fd.as_raw_fd() as u32;
        sys_bpf(bpf_cmd::BPF_OBJ_PIN, &mut attr).map_err(|e| nix_err(OP, Some(path), e))?;
        Ok(())
    }

    fn obj_get(&self, path: &Path, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd> {
        const OP: Op = Op::ObjGet;
        let c = cpath(OP, path)?;
        let mut attr = zeroed_attr();
        // `c` outlives the syscall below.
        attr.__bindgen_anon_4.pathname = c.as_ptr() as u64;
        attr.__bindgen_anon_4.file_flags = file_flags;
        let fd = sys_bpf_fd(OP, Some(path), bpf_cmd::BPF_OBJ_GET, &mut attr)?;
        check_fd_kind(OP, path, fd.as_fd(), kind)?;
        Ok(fd)
    }

    fn obj_get_pin(&self, pin: &PinHandle, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd> {
        // The magic link reaches the O_PATH-opened inode itself; without
        // /proc, fall back to the path and check it still is that inode.
        match self.obj_get(&proc_fd_path(&pin.fd), file_flags, kind) {
            Err(e) if e.is(libc::ENOENT) && !Path::new("/proc/self/fd").exists() => {
                let fd = self.obj_get(&pin.path, file_flags, kind)?;
                let now = self.lstat(&pin.path)?;
                if (now.dev, now.ino) != (pin.stat.dev, pin.stat.ino) || !now.is_file() {
                    return Err(SysError::from_errno(
                        Op::ObjGet,
                        Some(&pin.path),
                        libc::ESTALE,
                    ));
                }
                Ok(fd)
            }
            Err(e) => Err(SysError::from_errno(
                Op::ObjGet,
                Some(&pin.path),
                e.errno().unwrap_or(libc::EIO),
            )),
            Ok(fd) => Ok(fd),
        }
    }

    fn map_info(&self, fd: BorrowedFd<'_>) -> SysResult<MapInfo> {
        // SAFETY: `bpf_map_info` is a plain C struct; all-zero is valid.
        let mut info: bpf_map_info = unsafe { std::mem::zeroed() };
        obj_info(Op::MapInfo, fd, &mut info)?;
        Ok(MapInfo {
            id: info.id,
            name: c_name(&info.name),
            map_type: info.type_,
            key_size: info.key_size,
            value_size: info.value_size,
            max_entries: info.max_entries,
            map_flags: info.map_flags,
            btf_id: info.btf_id,
            btf_key_type_id: info.btf_key_type_id,
            btf_value_type_id: info.btf_value_type_id,
        })
    }

    fn prog_info(&self, fd: BorrowedFd<'_>) -> SysResult<ProgInfo> {
        // SAFETY: `bpf_prog_info` is a plain C struct; all-zero is valid (its
        // pointer fields are null, so the kernel copies no arrays out).
        let mut info: bpf_prog_info = unsafe { std::mem::zeroed() };
        obj_info(Op::ProgInfo, fd, &mut info)?;
        Ok(ProgInfo {
            id: info.id,
            name: c_name(&info.name),
            prog_type: info.type_,
            tag: info.tag,
            jited_prog_len: info.jited_prog_len,
            xlated_prog_len: info.xlated_prog_len,
        })
    }

    fn map_update(
        &self,
        fd: BorrowedFd<'_>,
        key: &[u8],
        value: &[u8],
        flags: u64,
    ) -> SysResult<()> {
        const OP: Op = Op::MapUpdate;
        // The kernel reads key_size/value_size bytes; it cannot know our slice
        // lengths, so check them against the map first.
        let info = self.map_info(fd)?;
        if key.len() != info.key_size as usize || value.len() != info.value_size as usize {
            return Err(SysError::from_errno(OP, None, libc::EINVAL));
        }
        let mut attr = zeroed_attr();
        // SAFETY: writing plain integer fields of the elem member of a zeroed
        // union; `key` and `value` outlive the syscall and have the map's sizes.
        unsafe {
            let e = &mut attr.__bindgen_anon_2;
            e.map_fd = fd.as_raw_fd() as u32;
            e.key = key.as_ptr() as u64;
            e.__bindgen_anon_1.value = value.as_ptr() as u64;
            e.flags = flags;
        }
        sys_bpf(bpf_cmd::BPF_MAP_UPDATE_ELEM, &mut attr).map_err(|e| nix_err(OP, None, e))?;
        Ok(())
    }

    fn map_lookup(&self, fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> SysResult<()> {
        const OP: Op = Op::MapLookup;
        let info = self.map_info(fd)?;
        // Per-CPU maps return value_size * ncpus bytes; refuse them rather than
        // let the kernel write past `value`.
        if key.len() != info.key_size as usize || value.len() != info.value_size as usize {
            return Err(SysError::from_errno(OP, None, libc::EINVAL));
        }
        if is_percpu(info.map_type) {
            return Err(SysError::from_errno(OP, None, libc::EOPNOTSUPP));
        }
        let mut attr = zeroed_attr();
        // SAFETY: writing plain integer fields of the elem member of a zeroed
        // union; `key` and `value` outlive the syscall and have the map's sizes.
        unsafe {
            let e = &mut attr.__bindgen_anon_2;
            e.map_fd = fd.as_raw_fd() as u32;
            e.key = key.as_ptr() as u64;
            e.__bindgen_anon_1.value = value.as_mut_ptr() as u64;
        }
        sys_bpf(bpf_cmd::BPF_MAP_LOOKUP_ELEM, &mut attr).map_err(|e| nix_err(OP, None, e))?;
        Ok(())
    }
}

impl Files for LinuxSys {
    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()> {
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            path,
            Mode::from_bits_truncate(mode as libc::mode_t),
            FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| nix_err(Op::Chmod, Some(path), e))
    }

    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()> {
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| nix_err(Op::Chown, Some(path), e))
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> SysResult<()> {
        const OP: Op = Op::Rename;
        let f = cpath(OP, from)?;
        let t = cpath(OP, to)?;
        // nix only wraps renameat2 for glibc; the raw syscall also works with
        // bionic and musl.
        // SAFETY: both paths are valid NUL-terminated strings that outlive the
        // call; AT_FDCWD makes them relative to the working directory.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                f.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if ret < 0 {
            // Name the destination: EEXIST is about it.
            return Err(nix_err(OP, Some(to), Errno::last()));
        }
        Ok(())
    }

    fn rename_over(&self, from: &Path, to: &Path) -> SysResult<()> {
        std::fs::rename(from, to).map_err(|e| io_err(Op::RenameOver, to, e))
    }

    fn unlink(&self, path: &Path) -> SysResult<()> {
        nix::unistd::unlink(path).map_err(|e| nix_err(Op::Unlink, Some(path), e))
    }

    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
        let m = Mode::from_bits_truncate(mode as libc::mode_t);
        nix::unistd::mkdir(path, m).map_err(|e| nix_err(Op::Mkdir, Some(path), e))?;
        // mkdir applies the process umask: only if it took bits away (the
        // boot flow runs with umask 0), set the mode explicitly.
        if self.lstat(path)?.perm() != mode & 0o7777 {
            self.chmod(path, mode)?;
        }
        Ok(())
    }

    fn lstat(&self, path: &Path) -> SysResult<FileStat> {
        let st = nix::sys::stat::lstat(path).map_err(|e| nix_err(Op::Lstat, Some(path), e))?;
        Ok(to_filestat(&st))
    }

    fn open_pin(&self, path: &Path) -> SysResult<PinHandle> {
        const OP: Op = Op::OpenPin;
        let c = cpath(OP, path)?;
        // SAFETY: `c` is a valid NUL-terminated path; the returned fd (if
        // any) is new and owned by nobody else.
        let raw = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(nix_err(OP, Some(path), Errno::last()));
        }
        // SAFETY: `raw` is a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let st = nix::sys::stat::fstat(&fd).map_err(|e| nix_err(OP, Some(path), e))?;
        Ok(PinHandle {
            fd,
            stat: to_filestat(&st),
            path: path.to_path_buf(),
        })
    }

    fn chmod_pin(&self, pin: &PinHandle, mode: u32) -> SysResult<()> {
        // An O_PATH fd cannot be fchmod'ed; its magic link can be chmod'ed
        // and reaches the inode itself (a symlink at the path is never
        // followed: the handle was opened with O_NOFOLLOW and is a file).
        self.chmod(&proc_fd_path(&pin.fd), mode).map_err(|e| {
            SysError::from_errno(Op::Chmod, Some(&pin.path), e.errno().unwrap_or(libc::EIO))
        })
    }

    fn chown_pin(&self, pin: &PinHandle, uid: u32, gid: u32) -> SysResult<()> {
        nix::unistd::fchownat(
            pin.fd.as_fd(),
            "",
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_EMPTY_PATH,
        )
        .map_err(|e| nix_err(Op::Chown, Some(&pin.path), e))
    }

    fn statfs(&self, path: &Path) -> SysResult<FsInfo> {
        let st = nix::sys::statfs::statfs(path).map_err(|e| nix_err(Op::Statfs, Some(path), e))?;
        // Mount flags through statvfs: bionic's statfs has no f_flags accessor.
        let vfs =
            nix::sys::statvfs::statvfs(path).map_err(|e| nix_err(Op::Statfs, Some(path), e))?;
        Ok(FsInfo {
            f_type: st.filesystem_type().0 as i64,
            read_only: vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
        })
    }

    fn read_dir(&self, path: &Path) -> SysResult<Vec<OsString>> {
        let rd = std::fs::read_dir(path).map_err(|e| io_err(Op::ReadDir, path, e))?;
        let mut names = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| io_err(Op::ReadDir, path, e))?;
            names.push(entry.file_name());
        }
        Ok(names)
    }

    fn read_file(&self, path: &Path, max_len: u64) -> SysResult<(Vec<u8>, FileStat)> {
        const OP: Op = Op::ReadFile;
        // O_NONBLOCK: a FIFO swapped in for the file must not hang the boot;
        // it is refused by the regular-file check below.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| io_err(OP, path, e))?;
        let st = nix::sys::stat::fstat(&f).map_err(|e| nix_err(OP, Some(path), e))?;
        let st = to_filestat(&st);
        if !st.is_file() {
            return Err(SysError::from_errno(OP, Some(path), libc::EINVAL));
        }
        if st_size_exceeds(&f, max_len) {
            return Err(SysError::from_errno(OP, Some(path), libc::EFBIG));
        }
        let mut data = Vec::new();
        f.take(max_len.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| io_err(OP, path, e))?;
        if data.len() as u64 > max_len {
            return Err(SysError::from_errno(OP, Some(path), libc::EFBIG));
        }
        Ok((data, st))
    }

    fn write_file(&self, path: &Path, data: &[u8]) -> SysResult<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| io_err(Op::WriteFile, path, e))?;
        f.write_all(data)
            .map_err(|e| io_err(Op::WriteFile, path, e))
    }

    fn create_file(&self, path: &Path, data: &[u8], mode: u32) -> SysResult<()> {
        use std::os::unix::fs::PermissionsExt;
        const OP: Op = Op::CreateFile;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| io_err(OP, path, e))?;
        // The umask applied at creation; the mode must be exactly `mode`.
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_err(OP, path, e))?;
        f.write_all(data).map_err(|e| io_err(OP, path, e))
    }

    fn lock_file(&self, path: &Path, timeout: Duration) -> SysResult<OwnedFd> {
        const OP: Op = Op::Lock;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| io_err(OP, path, e))?;
        let deadline = Instant::now() + timeout;
        loop {
            // SAFETY: flock on an fd we own.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(f.into());
            }
            let e = Errno::last();
            if e != Errno::EWOULDBLOCK && e != Errno::EINTR {
                return Err(nix_err(OP, Some(path), e));
            }
            if Instant::now() >= deadline {
                return Err(nix_err(OP, Some(path), Errno::EWOULDBLOCK));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Process for LinuxSys {
    fn uname(&self) -> SysResult<(String, String)> {
        let u = nix::sys::utsname::uname().map_err(|e| nix_err(Op::Uname, None, e))?;
        let s = |o: &OsStr| o.to_string_lossy().into_owned();
        Ok((s(u.release()), s(u.machine())))
    }

    fn credentials(&self) -> SysResult<Credentials> {
        const OP: Op = Op::Credentials;
        let groups = supplementary_groups().map_err(|e| SysError::io(OP, None, e))?;
        Ok(Credentials {
            pid: std::process::id(),
            euid: nix::unistd::geteuid().as_raw(),
            egid: nix::unistd::getegid().as_raw(),
            groups,
            cap_effective: capget_effective().map_err(|e| nix_err(OP, None, e))?,
        })
    }

    #[allow(
        clippy::useless_conversion,
        reason = "rlim_t is u32 on 32-bit bionic, u64 elsewhere"
    )]
    fn raise_nofile_limit(&self) -> SysResult<u64> {
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        let (soft, hard) =
            getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| nix_err(Op::Rlimit, None, e))?;
        if soft < hard {
            setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
                .map_err(|e| nix_err(Op::Rlimit, None, e))?;
            return Ok(u64::from(hard));
        }
        Ok(u64::from(soft))
    }

    fn page_size(&self) -> SysResult<u32> {
        const OP: Op = Op::PageSize;
        let v = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .map_err(|e| nix_err(OP, None, e))?
            .ok_or_else(|| SysError::from_errno(OP, None, libc::EINVAL))?;
        u32::try_from(v).map_err(|_| SysError::from_errno(OP, None, libc::ERANGE))
    }

    fn machine(&self) -> SysResult<Machine> {
        const OP: Op = Op::Machine;
        // Both without reading a file: `_SC_PHYS_PAGES` is sysinfo(2) in
        // glibc, musl and bionic, and the CPUs are those of the affinity
        // mask. (`_SC_NPROCESSORS_CONF` would read
        // /sys/devices/system/cpu/possible, then /proc/stat, which AOSP's
        // policy does not let the loader read: the enforcing QEMU boot
        // showed the denials.) The kernel sizes per-CPU maps by its
        // possible CPUs; the affinity mask is all of them at boot.
        let pages = nix::unistd::sysconf(nix::unistd::SysconfVar::_PHYS_PAGES)
            .map_err(|e| nix_err(OP, None, e))?
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| SysError::from_errno(OP, None, libc::EINVAL))?;
        let page = u64::from(self.page_size()?);
        let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .map_err(|e| nix_err(OP, None, e))?;
        let cpus = (0..nix::sched::CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count();
        Ok(Machine {
            memory: pages.saturating_mul(page),
            cpus: u32::try_from(cpus).unwrap_or(u32::MAX).max(1),
        })
    }

    fn set_umask(&self, mask: u32) -> u32 {
        nix::sys::stat::umask(Mode::from_bits_truncate(mask as libc::mode_t)).bits() as u32
    }

    fn exec(&self, path: &Path, argv: &[OsString]) -> SysError {
        let einval = || SysError::from_errno(Op::Exec, Some(path), libc::EINVAL);
        let Ok(cpath) = CString::new(path.as_os_str().as_bytes()) else {
            return einval();
        };
        let Ok(cargs) = argv
            .iter()
            .map(|a| CString::new(a.as_os_str().as_bytes()))
            .collect::<Result<Vec<_>, _>>()
        else {
            return einval();
        };
        // execv passes the current environment on.
        match nix::unistd::execv(&cpath, &cargs) {
            Err(e) => nix_err(Op::Exec, Some(path), e),
        }
    }
}

/// `/proc/self/fd/<fd>`.
fn proc_fd_path(fd: &OwnedFd) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Whether the open file is already larger than `max_len` (so a 4 GB file
/// is refused without reading it).
fn st_size_exceeds(f: &std::fs::File, max_len: u64) -> bool {
    f.metadata().map(|m| m.len() > max_len).unwrap_or(false)
}

/// The effective capability set of the calling thread (`capget(2)`, ABI
/// version 3: two 32-bit words).
fn capget_effective() -> Result<u64, Errno> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: `header` and `data` are valid, writable and laid out as the
    // kernel's `__user_cap_header_struct` and two `__user_cap_data_struct`s
    // (what version 3 writes).
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(Errno::last());
    }
    Ok(u64::from(data[0].effective) | (u64::from(data[1].effective) << 32))
}

/// Per-CPU map types, whose lookups return one value per possible CPU.
fn is_percpu(map_type: u32) -> bool {
    use aya_obj::generated::bpf_map_type as t;
    [
        t::BPF_MAP_TYPE_PERCPU_HASH as u32,
        t::BPF_MAP_TYPE_PERCPU_ARRAY as u32,
        t::BPF_MAP_TYPE_LRU_PERCPU_HASH as u32,
        t::BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE as u32,
    ]
    .contains(&map_type)
}

/// The supplementary groups, asked of the kernel alone. (`nix`'s
/// `getgroups` sizes its buffer with `sysconf(_SC_NGROUPS_MAX)`, which glibc
/// answers by reading `/proc/sys/kernel/ngroups_max`: a read the
/// `bpfloader` SELinux domain is not granted.)
fn supplementary_groups() -> std::io::Result<Vec<u32>> {
    loop {
        // SAFETY: size 0 with a null list only returns the count.
        let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        let n = usize::try_from(n).map_err(|_| std::io::Error::last_os_error())?;
        let mut groups: Vec<libc::gid_t> = vec![0; n];
        // SAFETY: `groups` has room for `n` entries, the size passed.
        let got = unsafe { libc::getgroups(n as libc::c_int, groups.as_mut_ptr()) };
        match usize::try_from(got) {
            Ok(got) => {
                groups.truncate(got);
                return Ok(groups);
            }
            // The set grew between the calls: ask again.
            Err(_) if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) => {}
            Err(_) => return Err(std::io::Error::last_os_error()),
        }
    }
}
