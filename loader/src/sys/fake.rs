//! [`FakeSys`]: an in-memory kernel for unit tests that need no root.
//!
//! It models what the loader depends on: a file tree (directories, regular
//! files, bpffs mounts holding pins), maps and programs with ids and the
//! attributes they were created with, and a call log. Errors can be injected
//! per map/program name or per operation and path.
//!
//! File descriptors handed out are real: each map or program owns a
//! `memfd`, and every fd returned is a `dup` of it. An fd is identified by the
//! memfd's inode (`fstat`), so fds stay unambiguous even when the tests of
//! several `FakeSys` instances run in parallel threads and fd numbers are
//! reused.
//!
//! Semantics copied from the kernel where the loader relies on them:
//! `BPF_OBJ_PIN` outside a bpffs fails with `EPERM` and on an existing path
//! with `EEXIST`; device maps get `BPF_F_RDONLY_PROG`; ring buffers need a
//! power-of-two multiple of the page size; an `LD_IMM64` with
//! `src_reg = BPF_PSEUDO_MAP_FD` must carry the fd of a live map (`EBADF`);
//! a verifier log that does not fit the buffer gives `ENOSPC`;
//! `BPF_BTF_LOAD` refuses a malformed blob and one whose DATASECs were not
//! sized (`EINVAL`); `BPF_MAP_CREATE` with BTF needs a live BTF fd and type
//! ids within it, and an SK_STORAGE map needs BTF, `max_entries` 0, a 4-byte
//! key and `BPF_F_NO_PREALLOC` (`EINVAL`).

use super::{
    Bpf, Credentials, FileStat, Files, FsInfo, Machine, MapCreateAttr, MapInfo, Op, PinHandle,
    Process, ProgInfo, ProgLoadAttr, SysError, SysResult, BPF_FS_MAGIC,
};
use aya_obj::generated::{bpf_map_type, BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, BPF_PSEUDO_MAP_FD};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// `statfs().f_type` reported for paths outside any bpffs (tmpfs).
pub const TMPFS_MAGIC: i64 = 0x0102_1994;

/// One node of the fake file tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir(Meta),
    /// A regular file with its contents.
    File(Meta, Vec<u8>),
    /// A pinned map or program (shows as a regular file, like on bpffs).
    Pin(Meta, ObjKind, u32),
    /// A symbolic link to the path it holds (bpffs allows them, and any
    /// user may create one in a sticky world-writable pin directory).
    Symlink(Meta, PathBuf),
}

/// Owner and permission bits of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Fake inode number.
    pub ino: u64,
}

pub use super::ObjKind;

/// A map in the fake kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMap {
    /// Map id.
    pub id: u32,
    /// Attributes as created (flags include what the kernel adds).
    pub attr: MapCreateAttr,
    /// Elements.
    pub elems: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Id of the BTF object the map was created with, 0 without BTF.
    pub btf_id: u32,
}

/// A BTF object in the fake kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeBtf {
    /// BTF id.
    pub id: u32,
    /// The blob as loaded.
    pub data: Vec<u8>,
    /// Number of types, void excluded.
    pub types: usize,
}

/// A program in the fake kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeProg {
    /// Program id.
    pub id: u32,
    /// `prog_type`.
    pub prog_type: u32,
    /// `expected_attach_type`.
    pub expected_attach_type: u32,
    /// Kernel name.
    pub name: String,
    /// License.
    pub license: String,
    /// `kern_version`.
    pub kern_version: u32,
    /// Instructions as passed in (relocated).
    pub insns: Vec<u8>,
    /// Ids of the maps referenced through `BPF_PSEUDO_MAP_FD`.
    pub map_ids: Vec<u32>,
}

#[derive(Debug)]
enum Obj {
    Map(FakeMap),
    Prog(FakeProg),
    Btf(FakeBtf),
}

#[derive(Debug)]
struct Entry {
    obj: Obj,
    memfd: OwnedFd,
}

/// An injected program-load failure.
#[derive(Debug, Clone)]
struct ProgFailure {
    errno: i32,
    log: String,
}

#[derive(Debug)]
struct State {
    tree: BTreeMap<PathBuf, Node>,
    bpffs_mounts: BTreeSet<PathBuf>,
    read_only: BTreeSet<PathBuf>,
    /// Objects by memfd inode.
    objects: HashMap<u64, Entry>,
    next_id: u32,
    next_ino: u64,
    uname: (String, String),
    page_size: u32,
    fail_map_create: HashMap<String, i32>,
    fail_prog_load: HashMap<String, ProgFailure>,
    /// Injected failures: `(op, path)`; a `None` path matches every path.
    fail_ops: HashMap<(Op, Option<PathBuf>), i32>,
    credentials: Credentials,
    nofile: u64,
    concurrent: HashMap<PathBuf, MapCreateAttr>,
    reject_btf_func_linkage: bool,
    btf_loads: Vec<Vec<u8>>,
    calls: Vec<String>,
}

/// The in-memory kernel. See the module documentation.
#[derive(Debug)]
pub struct FakeSys {
    state: Mutex<State>,
}

impl Default for FakeSys {
    fn default() -> Self {
        Self::new()
    }
}

fn err(op: Op, path: &Path, errno: i32) -> SysError {
    SysError::from_errno(op, Some(path), errno)
}

fn inode_of(fd: BorrowedFd<'_>) -> Option<u64> {
    nix::sys::stat::fstat(fd).ok().map(|st| st.st_ino)
}

/// Inode of a raw fd number found in an instruction (may not be open).
fn inode_of_raw(fd: i32) -> Option<u64> {
    if fd < 0 {
        return None;
    }
    // SAFETY: all-zero is a valid `struct stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable `struct stat`; the kernel validates
    // the fd number and returns EBADF for one that is not open.
    let r = unsafe { libc::fstat(fd, &mut st) };
    (r == 0).then_some(st.st_ino)
}

impl FakeSys {
    /// An empty kernel: only `/` exists (not a bpffs), uname
    /// `6.18.0-fake`/`x86_64`, 4 KiB pages.
    pub fn new() -> Self {
        let mut tree = BTreeMap::new();
        tree.insert(
            PathBuf::from("/"),
            Node::Dir(Meta {
                mode: 0o755,
                uid: 0,
                gid: 0,
                ino: 1,
            }),
        );
        FakeSys {
            state: Mutex::new(State {
                tree,
                bpffs_mounts: BTreeSet::new(),
                read_only: BTreeSet::new(),
                objects: HashMap::new(),
                next_id: 1,
                next_ino: 2,
                uname: ("6.18.0-fake".into(), "x86_64".into()),
                page_size: 4096,
                fail_map_create: HashMap::new(),
                fail_prog_load: HashMap::new(),
                fail_ops: HashMap::new(),
                credentials: Credentials {
                    pid: 4242,
                    euid: 0,
                    egid: 0,
                    groups: Vec::new(),
                    cap_effective: u64::MAX >> 23,
                },
                nofile: 1024,
                concurrent: HashMap::new(),
                reject_btf_func_linkage: false,
                btf_loads: Vec::new(),
                calls: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves consistent data
        // (every mutation is a single insert/remove), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates `path` and its missing parents as directories (mode 0755).
    pub fn add_dir(&self, path: impl AsRef<Path>) {
        let mut s = self.lock();
        s.mkdir_p(path.as_ref());
    }

    /// Mounts a bpffs at `path` (created if missing, mode 01777 like
    /// `/sys/fs/bpf`).
    pub fn mount_bpffs(&self, path: impl AsRef<Path>) {
        let mut s = self.lock();
        let p = path.as_ref().to_path_buf();
        s.mkdir_p(&p);
        if let Some(Node::Dir(m)) = s.tree.get_mut(&p) {
            m.mode = 0o1777;
        }
        s.bpffs_mounts.insert(p);
    }

    /// Marks the filesystem at `path` read-only (`FsInfo::read_only` of
    /// `statfs`).
    pub fn set_read_only(&self, path: impl AsRef<Path>) {
        self.lock().read_only.insert(path.as_ref().to_path_buf());
    }

    /// Adds a regular file (parents created), mode 0644 owned by root.
    pub fn add_file(&self, path: impl AsRef<Path>, data: impl Into<Vec<u8>>) {
        self.add_file_with(path, data, 0o644, 0, 0);
    }

    /// Adds a regular file with the given mode and owner.
    pub fn add_file_with(
        &self,
        path: impl AsRef<Path>,
        data: impl Into<Vec<u8>>,
        mode: u32,
        uid: u32,
        gid: u32,
    ) {
        let mut s = self.lock();
        let p = path.as_ref();
        if let Some(parent) = p.parent() {
            s.mkdir_p(parent);
        }
        let ino = s.ino();
        s.tree.insert(
            p.to_path_buf(),
            Node::File(
                Meta {
                    mode,
                    uid,
                    gid,
                    ino,
                },
                data.into(),
            ),
        );
    }

    /// Adds a symlink at `path` pointing to `target`, owned by `uid`.
    pub fn add_symlink(&self, path: impl AsRef<Path>, target: impl AsRef<Path>, uid: u32) {
        let mut s = self.lock();
        let ino = s.ino();
        s.tree.insert(
            path.as_ref().to_path_buf(),
            Node::Symlink(
                Meta {
                    mode: 0o777,
                    uid,
                    gid: uid,
                    ino,
                },
                target.as_ref().to_path_buf(),
            ),
        );
    }

    /// Sets the mode and owner of an existing node.
    pub fn set_meta(&self, path: impl AsRef<Path>, mode: u32, uid: u32, gid: u32) {
        let mut s = self.lock();
        if let Some(m) = s.meta_mut(path.as_ref()) {
            m.mode = mode;
            m.uid = uid;
            m.gid = gid;
        }
    }

    /// Sets what `uname()` returns.
    pub fn set_uname(&self, release: &str, machine: &str) {
        self.lock().uname = (release.into(), machine.into());
    }

    /// Sets what `sysconf(_SC_PAGESIZE)` returns.
    pub fn set_page_size(&self, page_size: u32) {
        self.lock().page_size = page_size;
    }

    /// Makes `BPF_MAP_CREATE` of the map with kernel name `name` fail.
    pub fn fail_map_create(&self, name: &str, errno: i32) {
        self.lock().fail_map_create.insert(name.into(), errno);
    }

    /// Makes `BPF_PROG_LOAD` of the program with kernel name `name` fail with
    /// `errno`, writing `log` as the verifier log when a log buffer is given
    /// (`ENOSPC` instead if the buffer is too small for it, as the kernel).
    pub fn fail_prog_load(&self, name: &str, errno: i32, log: &str) {
        self.lock().fail_prog_load.insert(
            name.into(),
            ProgFailure {
                errno,
                log: log.into(),
            },
        );
    }

    /// Makes operation `op` on `path` fail with `errno` (every operation
    /// of the fake honours it: each one passes through the same gate). For
    /// [`Op::Rename`] the path is the destination.
    pub fn fail_op(&self, op: Op, path: impl AsRef<Path>, errno: i32) {
        self.lock()
            .fail_ops
            .insert((op, Some(path.as_ref().to_path_buf())), errno);
    }

    /// Makes every call of `op`, whatever its path, fail with `errno`.
    pub fn fail_all(&self, op: Op, errno: i32) {
        self.lock().fail_ops.insert((op, None), errno);
    }

    /// Behaves like a kernel before 5.6: `BPF_BTF_LOAD` of a blob with a
    /// FUNC carrying linkage bits fails with `EINVAL`.
    pub fn reject_btf_func_linkage(&self) {
        self.lock().reject_btf_func_linkage = true;
    }

    /// Every blob passed to `BPF_BTF_LOAD` so far (loaded or refused), in
    /// call order.
    pub fn btf_loads(&self) -> Vec<Vec<u8>> {
        self.lock().btf_loads.clone()
    }

    /// The BTF object with id `id`.
    pub fn btf_by_id(&self, id: u32) -> Option<FakeBtf> {
        self.lock().objects.values().find_map(|e| match &e.obj {
            Obj::Btf(b) if b.id == id => Some(b.clone()),
            _ => None,
        })
    }

    /// Sets the credentials [`Process::credentials`] reports (default: root
    /// with every capability).
    pub fn set_credentials(&self, c: Credentials) {
        self.lock().credentials = c;
    }

    /// Simulates a concurrent loader: just before the first `BPF_OBJ_PIN`
    /// or `renameat2` that targets `path`, a map with `attr` is created and
    /// pinned there by "someone else", so that call sees `EEXIST`.
    pub fn concurrent_pin(&self, path: impl AsRef<Path>, attr: MapCreateAttr) {
        self.lock()
            .concurrent
            .insert(path.as_ref().to_path_buf(), attr);
    }

    /// Every call made so far, one line each (e.g. `BPF_OBJ_PIN /b/x`).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Clears the call log.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// The node at `path`.
    pub fn node(&self, path: impl AsRef<Path>) -> Option<Node> {
        self.lock().tree.get(path.as_ref()).cloned()
    }

    /// Every pin: path, kind, object id, meta; sorted by path.
    pub fn pins(&self) -> Vec<(PathBuf, ObjKind, u32, Meta)> {
        self.lock()
            .tree
            .iter()
            .filter_map(|(p, n)| match n {
                Node::Pin(m, k, id) => Some((p.clone(), *k, *id, *m)),
                _ => None,
            })
            .collect()
    }

    /// The map with id `id`.
    pub fn map_by_id(&self, id: u32) -> Option<FakeMap> {
        self.lock().objects.values().find_map(|e| match &e.obj {
            Obj::Map(m) if m.id == id => Some(m.clone()),
            _ => None,
        })
    }

    /// The program with id `id`.
    pub fn prog_by_id(&self, id: u32) -> Option<FakeProg> {
        self.lock().objects.values().find_map(|e| match &e.obj {
            Obj::Prog(p) if p.id == id => Some(p.clone()),
            _ => None,
        })
    }

    /// Creates a map and pins it at `path` (a pre-existing pin for tests),
    /// returning its id.
    pub fn pin_new_map(&self, path: impl AsRef<Path>, attr: &MapCreateAttr) -> SysResult<u32> {
        let fd = self.map_create(attr)?;
        self.obj_pin(fd.as_fd(), path.as_ref())?;
        Ok(self.map_info(fd.as_fd())?.id)
    }
}

impl State {
    fn ino(&mut self) -> u64 {
        let i = self.next_ino;
        self.next_ino += 1;
        i
    }

    fn id(&mut self) -> u32 {
        let i = self.next_id;
        self.next_id += 1;
        i
    }

    fn mkdir_p(&mut self, p: &Path) {
        let mut cur = PathBuf::new();
        for c in p.components() {
            cur.push(c);
            if !self.tree.contains_key(&cur) {
                let ino = self.ino();
                self.tree.insert(
                    cur.clone(),
                    Node::Dir(Meta {
                        mode: 0o755,
                        uid: 0,
                        gid: 0,
                        ino,
                    }),
                );
            }
        }
    }

    fn log(&mut self, line: String) {
        self.calls.push(line);
    }

    /// The one gate every operation passes: logs `op path extra` and
    /// returns an injected failure, if any.
    fn gate(&mut self, op: Op, path: Option<&Path>, extra: &str) -> SysResult<()> {
        let mut line = op.name().to_string();
        if let Some(p) = path {
            line.push(' ');
            line.push_str(&p.display().to_string());
        }
        if !extra.is_empty() {
            line.push(' ');
            line.push_str(extra);
        }
        self.log(line);
        let hit = path
            .and_then(|p| self.fail_ops.get(&(op, Some(p.to_path_buf()))))
            .or_else(|| self.fail_ops.get(&(op, None)));
        match hit {
            Some(&errno) => Err(SysError::from_errno(op, path, errno)),
            None => Ok(()),
        }
    }

    fn in_bpffs(&self, path: &Path) -> bool {
        path.ancestors().any(|a| self.bpffs_mounts.contains(a))
    }

    fn parent_is_dir(&self, path: &Path) -> bool {
        matches!(
            path.parent().and_then(|p| self.tree.get(p)),
            Some(Node::Dir(_))
        )
    }

    fn meta_mut(&mut self, path: &Path) -> Option<&mut Meta> {
        match self.tree.get_mut(path)? {
            Node::Dir(m) | Node::File(m, _) | Node::Pin(m, _, _) | Node::Symlink(m, _) => Some(m),
        }
    }

    /// The permission check `BPF_OBJ_GET` makes on a pin: read (and write
    /// unless `BPF_F_RDONLY`) through the owner, group or other bits, unless
    /// the caller has `CAP_DAC_OVERRIDE`.
    fn may_access(&self, m: &Meta, file_flags: u32) -> bool {
        const CAP_DAC_OVERRIDE: u32 = 1;
        let c = &self.credentials;
        if c.has_cap(CAP_DAC_OVERRIDE) {
            return true;
        }
        let bits = if m.uid == c.euid {
            m.mode >> 6
        } else if m.gid == c.egid || c.groups.contains(&m.gid) {
            m.mode >> 3
        } else {
            m.mode
        } & 0o7;
        let want = if file_flags & super::BPF_F_RDONLY != 0 {
            0o4
        } else {
            0o6
        };
        bits & want == want
    }

    fn stat(&self, path: &Path) -> Option<FileStat> {
        let (m, ty) = match self.tree.get(path)? {
            Node::Dir(m) => (m, super::S_IFDIR),
            Node::File(m, _) | Node::Pin(m, _, _) => (m, super::S_IFREG),
            Node::Symlink(m, _) => (m, super::S_IFLNK),
        };
        Some(FileStat {
            uid: m.uid,
            gid: m.gid,
            mode: ty | m.mode,
            dev: if self.in_bpffs(path) { 2 } else { 1 },
            ino: m.ino,
            size: match self.tree.get(path) {
                Some(Node::File(_, d)) => d.len() as u64,
                _ => 0,
            },
        })
    }

    fn new_object(&mut self, obj: Obj) -> SysResult<OwnedFd> {
        let memfd = nix::sys::memfd::memfd_create(
            c"fake-bpf-object",
            nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
        )
        .map_err(|e| SysError::from_errno(Op::MapCreate, None, e as i32))?;
        let ino = inode_of(memfd.as_fd())
            .ok_or_else(|| SysError::from_errno(Op::MapCreate, None, libc::EBADF))?;
        let fd = memfd
            .try_clone()
            .map_err(|e| SysError::io(Op::MapCreate, None, e))?;
        self.objects.insert(ino, Entry { obj, memfd });
        Ok(fd)
    }

    /// Runs a [`FakeSys::concurrent_pin`] registered for `path`, if any.
    fn race(&mut self, path: &Path) -> SysResult<()> {
        let Some(attr) = self.concurrent.remove(path) else {
            return Ok(());
        };
        let id = self.id();
        let fd = self.new_object(Obj::Map(FakeMap {
            id,
            attr,
            elems: BTreeMap::new(),
            btf_id: 0,
        }))?;
        drop(fd);
        let ino = self.ino();
        self.log(format!("(concurrent loader pins {})", path.display()));
        self.tree.insert(
            path.to_path_buf(),
            Node::Pin(
                Meta {
                    mode: 0o600,
                    uid: 0,
                    gid: 0,
                    ino,
                },
                ObjKind::Map,
                id,
            ),
        );
        Ok(())
    }

    /// The kernel's checks of the BTF part of `BPF_MAP_CREATE`; the BTF id.
    fn map_btf(&self, attr: &MapCreateAttr) -> Result<u32, i32> {
        let sk_storage = attr.map_type == SK_STORAGE;
        if sk_storage
            && (attr.max_entries != 0
                || attr.key_size != 4
                || attr.value_size == 0
                || attr.map_flags & BPF_F_NO_PREALLOC == 0)
        {
            return Err(libc::EINVAL);
        }
        let Some(btf) = attr.btf else {
            // bpf_local_storage_map_alloc_check: no BTF key/value ids.
            return if sk_storage { Err(libc::EINVAL) } else { Ok(0) };
        };
        let b = inode_of_raw(btf.fd)
            .and_then(|ino| self.objects.get(&ino))
            .ok_or(libc::EBADF)?;
        let Obj::Btf(b) = &b.obj else {
            return Err(libc::EINVAL);
        };
        let in_range = |id: u32| id != 0 && (id as usize) <= b.types;
        if !in_range(btf.key_type_id) || !in_range(btf.value_type_id) {
            return Err(libc::EINVAL);
        }
        Ok(b.id)
    }

    fn entry(&self, fd: BorrowedFd<'_>) -> Option<&Entry> {
        self.objects.get(&inode_of(fd)?)
    }

    fn entry_by_id(&self, kind: ObjKind, id: u32) -> Option<&Entry> {
        self.objects.values().find(|e| match (&e.obj, kind) {
            (Obj::Map(m), ObjKind::Map) => m.id == id,
            (Obj::Prog(p), ObjKind::Prog) => p.id == id,
            _ => false,
        })
    }
}

const RINGBUF: u32 = bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32;
const SK_STORAGE: u32 = bpf_map_type::BPF_MAP_TYPE_SK_STORAGE as u32;

impl Bpf for FakeSys {
    fn map_create(&self, attr: &MapCreateAttr) -> SysResult<OwnedFd> {
        const OP: Op = Op::MapCreate;
        let mut s = self.lock();
        s.gate(OP, None, &attr.name)?;
        if let Some(&e) = s.fail_map_create.get(&attr.name) {
            return Err(SysError::from_errno(OP, None, e));
        }
        if attr.map_type == 0 || attr.name.len() > crate::paths::KERNEL_NAME_MAX {
            return Err(SysError::from_errno(OP, None, libc::EINVAL));
        }
        if attr.map_type == RINGBUF
            && (!attr.max_entries.is_power_of_two()
                || !attr.max_entries.is_multiple_of(s.page_size))
        {
            return Err(SysError::from_errno(OP, None, libc::EINVAL));
        }
        let btf_id = s
            .map_btf(attr)
            .map_err(|e| SysError::from_errno(OP, None, e))?;
        let mut attr = attr.clone();
        if crate::gate::is_devmap(attr.map_type) {
            attr.map_flags |= BPF_F_RDONLY_PROG;
        }
        let id = s.id();
        s.new_object(Obj::Map(FakeMap {
            id,
            attr,
            elems: BTreeMap::new(),
            btf_id,
        }))
    }

    fn prog_load(&self, attr: &ProgLoadAttr<'_>, log: &mut [u8]) -> SysResult<OwnedFd> {
        const OP: Op = Op::ProgLoad;
        let mut s = self.lock();
        s.gate(OP, None, &format!("{} log_size={}", attr.name, log.len()))?;
        if let Some(f) = s.fail_prog_load.get(attr.name).cloned() {
            if !log.is_empty() {
                let text = f.log.as_bytes();
                let n = text.len().min(log.len() - 1);
                if let (Some(dst), Some(src)) = (log.get_mut(..n), text.get(..n)) {
                    dst.copy_from_slice(src);
                }
                if let Some(b) = log.get_mut(n) {
                    *b = 0;
                }
                if text.len() >= log.len() {
                    return Err(SysError::from_errno(OP, None, libc::ENOSPC));
                }
            }
            return Err(SysError::from_errno(OP, None, f.errno));
        }
        if attr.prog_type == 0 || attr.insns.is_empty() || !attr.insns.len().is_multiple_of(8) {
            return Err(SysError::from_errno(OP, None, libc::EINVAL));
        }
        let mut map_ids = Vec::new();
        for insn in attr.insns.chunks_exact(8) {
            if let [0x18, regs, _, _, a, b, c, d] = *insn {
                if u32::from(regs >> 4) == BPF_PSEUDO_MAP_FD {
                    let fd = i32::from_le_bytes([a, b, c, d]);
                    let id = inode_of_raw(fd)
                        .and_then(|ino| s.objects.get(&ino))
                        .and_then(|e| match &e.obj {
                            Obj::Map(m) => Some(m.id),
                            Obj::Prog(_) | Obj::Btf(_) => None,
                        });
                    match id {
                        Some(id) => map_ids.push(id),
                        None => return Err(SysError::from_errno(OP, None, libc::EBADF)),
                    }
                }
            }
        }
        let id = s.id();
        s.new_object(Obj::Prog(FakeProg {
            id,
            prog_type: attr.prog_type,
            expected_attach_type: attr.expected_attach_type,
            name: attr.name.into(),
            license: attr.license.into(),
            kern_version: attr.kern_version,
            insns: attr.insns.to_vec(),
            map_ids,
        }))
    }

    fn btf_load(&self, data: &[u8], log: &mut [u8]) -> SysResult<OwnedFd> {
        const OP: Op = Op::BtfLoad;
        let mut s = self.lock();
        s.btf_loads.push(data.to_vec());
        s.gate(
            OP,
            None,
            &format!("size={} log_size={}", data.len(), log.len()),
        )?;
        let refuse = |log: &mut [u8], errno: i32, why: &str| {
            let text = why.as_bytes();
            let n = text.len().min(log.len().saturating_sub(1));
            if let (Some(dst), Some(src)) = (log.get_mut(..n), text.get(..n)) {
                dst.copy_from_slice(src);
            }
            if let Some(b) = log.get_mut(n) {
                *b = 0;
            }
            SysError::from_errno(OP, None, errno)
        };
        if !log.is_empty() && log.len() < 128 {
            return Err(SysError::from_errno(OP, None, libc::EINVAL));
        }
        let summary = match crate::btf::summary(data) {
            Ok(sum) => sum,
            Err(e) => return Err(refuse(log, libc::EINVAL, &format!("{e}\n"))),
        };
        if summary.unsized_datasecs > 0 {
            return Err(refuse(log, libc::EINVAL, "DATASEC: Invalid offset\n"));
        }
        if s.reject_btf_func_linkage && summary.funcs_with_linkage > 0 {
            return Err(refuse(log, libc::EINVAL, "FUNC: Invalid func linkage\n"));
        }
        let id = s.id();
        s.new_object(Obj::Btf(FakeBtf {
            id,
            data: data.to_vec(),
            types: summary.types,
        }))
    }

    fn obj_pin(&self, fd: BorrowedFd<'_>, path: &Path) -> SysResult<()> {
        const OP: Op = Op::ObjPin;
        let mut s = self.lock();
        s.gate(OP, Some(path), "")?;
        s.race(path)?;
        let (kind, id) = match s.entry(fd).map(|e| &e.obj) {
            Some(Obj::Map(m)) => (ObjKind::Map, m.id),
            Some(Obj::Prog(p)) => (ObjKind::Prog, p.id),
            // The kernel pins maps, programs and links only.
            Some(Obj::Btf(_)) => return Err(err(OP, path, libc::EINVAL)),
            None => return Err(err(OP, path, libc::EBADF)),
        };
        if !s.parent_is_dir(path) {
            return Err(err(OP, path, libc::ENOENT));
        }
        if !s.in_bpffs(path) {
            return Err(err(OP, path, libc::EPERM));
        }
        if s.tree.contains_key(path) {
            return Err(err(OP, path, libc::EEXIST));
        }
        let ino = s.ino();
        let (uid, gid) = (s.credentials.euid, s.credentials.egid);
        s.tree.insert(
            path.to_path_buf(),
            Node::Pin(
                Meta {
                    mode: 0o600,
                    uid,
                    gid,
                    ino,
                },
                kind,
                id,
            ),
        );
        Ok(())
    }

    fn obj_get(&self, path: &Path, file_flags: u32, want: ObjKind) -> SysResult<OwnedFd> {
        const OP: Op = Op::ObjGet;
        let mut s = self.lock();
        s.gate(OP, Some(path), &format!("flags={file_flags:#x}"))?;
        // Like the kernel (LOOKUP_FOLLOW), a symlink is followed.
        let target = match s.tree.get(path) {
            Some(Node::Symlink(_, t)) => t.clone(),
            _ => path.to_path_buf(),
        };
        let (kind, id) = match s.tree.get(&target) {
            Some(Node::Pin(m, k, id)) => {
                if !s.may_access(m, file_flags) {
                    return Err(err(OP, path, libc::EACCES));
                }
                (*k, *id)
            }
            Some(_) => return Err(err(OP, path, libc::EINVAL)),
            None => return Err(err(OP, path, libc::ENOENT)),
        };
        if kind != want {
            return Err(err(OP, path, libc::EINVAL));
        }
        let entry = s
            .entry_by_id(kind, id)
            .ok_or_else(|| err(OP, path, libc::ENOENT))?;
        entry
            .memfd
            .try_clone()
            .map_err(|e| SysError::io(OP, Some(path), e))
    }

    /// The fake's handles are paths: the node must still be the inode the
    /// handle was opened on.
    fn obj_get_pin(&self, pin: &PinHandle, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd> {
        {
            let s = self.lock();
            if s.stat(&pin.path).map(|st| st.ino) != Some(pin.stat.ino) {
                return Err(err(Op::ObjGet, &pin.path, libc::ESTALE));
            }
        }
        self.obj_get(&pin.path, file_flags, kind)
    }

    fn map_info(&self, fd: BorrowedFd<'_>) -> SysResult<MapInfo> {
        const OP: Op = Op::MapInfo;
        let mut s = self.lock();
        s.gate(OP, None, "")?;
        match s.entry(fd).map(|e| &e.obj) {
            Some(Obj::Map(m)) => Ok(MapInfo {
                id: m.id,
                name: m.attr.name.chars().take(15).collect(),
                map_type: m.attr.map_type,
                key_size: m.attr.key_size,
                value_size: m.attr.value_size,
                max_entries: m.attr.max_entries,
                map_flags: m.attr.map_flags,
                btf_id: m.btf_id,
                btf_key_type_id: m.attr.btf.map_or(0, |b| b.key_type_id),
                btf_value_type_id: m.attr.btf.map_or(0, |b| b.value_type_id),
            }),
            Some(_) => Err(SysError::from_errno(OP, None, libc::EINVAL)),
            None => Err(SysError::from_errno(OP, None, libc::EBADF)),
        }
    }

    fn prog_info(&self, fd: BorrowedFd<'_>) -> SysResult<ProgInfo> {
        const OP: Op = Op::ProgInfo;
        let mut s = self.lock();
        s.gate(OP, None, "")?;
        match s.entry(fd).map(|e| &e.obj) {
            Some(Obj::Prog(p)) => {
                let len = u32::try_from(p.insns.len()).unwrap_or(u32::MAX);
                Ok(ProgInfo {
                    id: p.id,
                    name: p.name.chars().take(15).collect(),
                    prog_type: p.prog_type,
                    tag: fake_tag(&p.insns),
                    jited_prog_len: len,
                    xlated_prog_len: len,
                })
            }
            Some(_) => Err(SysError::from_errno(OP, None, libc::EINVAL)),
            None => Err(SysError::from_errno(OP, None, libc::EBADF)),
        }
    }

    fn map_update(
        &self,
        fd: BorrowedFd<'_>,
        key: &[u8],
        value: &[u8],
        _flags: u64,
    ) -> SysResult<()> {
        const OP: Op = Op::MapUpdate;
        let mut s = self.lock();
        s.gate(OP, None, "")?;
        let ino = inode_of(fd).ok_or_else(|| SysError::from_errno(OP, None, libc::EBADF))?;
        match s.objects.get_mut(&ino).map(|e| &mut e.obj) {
            Some(Obj::Map(m))
                if key.len() == m.attr.key_size as usize
                    && value.len() == m.attr.value_size as usize =>
            {
                m.elems.insert(key.to_vec(), value.to_vec());
                Ok(())
            }
            Some(_) => Err(SysError::from_errno(OP, None, libc::EINVAL)),
            None => Err(SysError::from_errno(OP, None, libc::EBADF)),
        }
    }

    fn map_lookup(&self, fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> SysResult<()> {
        const OP: Op = Op::MapLookup;
        let mut s = self.lock();
        s.gate(OP, None, "")?;
        match s.entry(fd).map(|e| &e.obj) {
            Some(Obj::Map(m)) => {
                let v = m
                    .elems
                    .get(key)
                    .ok_or_else(|| SysError::from_errno(OP, None, libc::ENOENT))?;
                if v.len() != value.len() {
                    return Err(SysError::from_errno(OP, None, libc::EINVAL));
                }
                value.copy_from_slice(v);
                Ok(())
            }
            Some(_) => Err(SysError::from_errno(OP, None, libc::EINVAL)),
            None => Err(SysError::from_errno(OP, None, libc::EBADF)),
        }
    }
}

impl Files for FakeSys {
    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()> {
        const OP: Op = Op::Chmod;
        let mut s = self.lock();
        s.gate(OP, Some(path), &format!("{mode:#o}"))?;
        // As the kernel: only the owner, or a holder of CAP_FOWNER, may
        // change the mode.
        const CAP_FOWNER: u32 = 3;
        let (euid, fowner) = (s.credentials.euid, s.credentials.has_cap(CAP_FOWNER));
        let m = s
            .meta_mut(path)
            .ok_or_else(|| err(OP, path, libc::ENOENT))?;
        if m.uid != euid && !fowner {
            return Err(err(OP, path, libc::EPERM));
        }
        m.mode = mode & 0o7777;
        Ok(())
    }

    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()> {
        const OP: Op = Op::Chown;
        let mut s = self.lock();
        s.gate(OP, Some(path), &format!("{uid}:{gid}"))?;
        if !s.credentials.may_chown_to(uid, gid) {
            return Err(err(OP, path, libc::EPERM));
        }
        let m = s
            .meta_mut(path)
            .ok_or_else(|| err(OP, path, libc::ENOENT))?;
        m.uid = uid;
        m.gid = gid;
        Ok(())
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> SysResult<()> {
        const OP: Op = Op::Rename;
        let mut s = self.lock();
        s.gate(OP, Some(to), &format!("from {}", from.display()))?;
        s.race(to)?;
        if !s.tree.contains_key(from) {
            return Err(err(OP, from, libc::ENOENT));
        }
        if !s.parent_is_dir(to) {
            return Err(err(OP, to, libc::ENOENT));
        }
        if s.tree.contains_key(to) {
            return Err(err(OP, to, libc::EEXIST));
        }
        if s.in_bpffs(from) != s.in_bpffs(to) {
            return Err(err(OP, to, libc::EXDEV));
        }
        if let Some(n) = s.tree.remove(from) {
            s.tree.insert(to.to_path_buf(), n);
        }
        Ok(())
    }

    fn rename_over(&self, from: &Path, to: &Path) -> SysResult<()> {
        const OP: Op = Op::RenameOver;
        let mut s = self.lock();
        s.gate(OP, Some(to), &format!("from {}", from.display()))?;
        if !s.tree.contains_key(from) {
            return Err(err(OP, from, libc::ENOENT));
        }
        if !s.parent_is_dir(to) {
            return Err(err(OP, to, libc::ENOENT));
        }
        if matches!(s.tree.get(to), Some(Node::Dir(_))) {
            return Err(err(OP, to, libc::EISDIR));
        }
        if s.in_bpffs(from) != s.in_bpffs(to) {
            return Err(err(OP, to, libc::EXDEV));
        }
        if let Some(n) = s.tree.remove(from) {
            s.tree.insert(to.to_path_buf(), n);
        }
        Ok(())
    }

    fn unlink(&self, path: &Path) -> SysResult<()> {
        const OP: Op = Op::Unlink;
        let mut s = self.lock();
        s.gate(OP, Some(path), "")?;
        match s.tree.get(path) {
            Some(Node::Dir(_)) => Err(err(OP, path, libc::EISDIR)),
            Some(_) => {
                s.tree.remove(path);
                Ok(())
            }
            None => Err(err(OP, path, libc::ENOENT)),
        }
    }

    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
        const OP: Op = Op::Mkdir;
        let mut s = self.lock();
        s.gate(OP, Some(path), &format!("{mode:#o}"))?;
        if s.tree.contains_key(path) {
            return Err(err(OP, path, libc::EEXIST));
        }
        if !s.parent_is_dir(path) {
            return Err(err(OP, path, libc::ENOENT));
        }
        let ino = s.ino();
        s.tree.insert(
            path.to_path_buf(),
            Node::Dir(Meta {
                mode: mode & 0o7777,
                uid: 0,
                gid: 0,
                ino,
            }),
        );
        Ok(())
    }

    fn lstat(&self, path: &Path) -> SysResult<FileStat> {
        const OP: Op = Op::Lstat;
        let mut s = self.lock();
        s.gate(OP, Some(path), "")?;
        s.stat(path).ok_or_else(|| err(OP, path, libc::ENOENT))
    }

    fn open_pin(&self, path: &Path) -> SysResult<PinHandle> {
        const OP: Op = Op::OpenPin;
        let mut s = self.lock();
        s.gate(OP, Some(path), "")?;
        let stat = s.stat(path).ok_or_else(|| err(OP, path, libc::ENOENT))?;
        let fd =
            nix::sys::memfd::memfd_create(c"fake-opath", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .map_err(|e| err(OP, path, e as i32))?;
        Ok(PinHandle {
            fd,
            stat,
            path: path.to_path_buf(),
        })
    }

    fn chmod_pin(&self, pin: &PinHandle, mode: u32) -> SysResult<()> {
        self.chmod(&pin.path, mode)
    }

    fn chown_pin(&self, pin: &PinHandle, uid: u32, gid: u32) -> SysResult<()> {
        self.chown(&pin.path, uid, gid)
    }

    fn statfs(&self, path: &Path) -> SysResult<FsInfo> {
        const OP: Op = Op::Statfs;
        let mut s = self.lock();
        s.gate(OP, Some(path), "")?;
        if !s.tree.contains_key(path) {
            return Err(err(OP, path, libc::ENOENT));
        }
        Ok(FsInfo {
            f_type: if s.in_bpffs(path) {
                BPF_FS_MAGIC
            } else {
                TMPFS_MAGIC
            },
            read_only: path.ancestors().any(|a| s.read_only.contains(a)),
        })
    }

    fn read_dir(&self, path: &Path) -> SysResult<Vec<OsString>> {
        const OP: Op = Op::ReadDir;
        let mut s = self.lock();
        s.gate(OP, Some(path), "")?;
        match s.tree.get(path) {
            Some(Node::Dir(_)) => {}
            Some(_) => return Err(err(OP, path, libc::ENOTDIR)),
            None => return Err(err(OP, path, libc::ENOENT)),
        }
        Ok(s.tree
            .keys()
            .filter(|p| p.parent() == Some(path))
            .filter_map(|p| p.file_name())
            .map(|n| n.to_os_string())
            .collect())
    }

    fn read_file(&self, path: &Path, max_len: u64) -> SysResult<(Vec<u8>, FileStat)> {
        const OP: Op = Op::ReadFile;
        let mut s = self.lock();
        s.gate(OP, Some(path), "")?;
        let st = s.stat(path).ok_or_else(|| err(OP, path, libc::ENOENT))?;
        match s.tree.get(path) {
            Some(Node::Symlink(..)) => Err(err(OP, path, libc::ELOOP)),
            Some(Node::File(_, data)) if data.len() as u64 > max_len => {
                Err(err(OP, path, libc::EFBIG))
            }
            Some(Node::File(_, data)) => Ok((data.clone(), st)),
            _ => Err(err(OP, path, libc::EINVAL)),
        }
    }

    fn write_file(&self, path: &Path, data: &[u8]) -> SysResult<()> {
        const OP: Op = Op::WriteFile;
        let mut s = self.lock();
        s.gate(OP, Some(path), String::from_utf8_lossy(data).trim_end())?;
        match s.tree.get_mut(path) {
            Some(Node::File(_, d)) => {
                *d = data.to_vec();
                Ok(())
            }
            Some(_) => Err(err(OP, path, libc::EISDIR)),
            None => Err(err(OP, path, libc::ENOENT)),
        }
    }

    fn create_file(&self, path: &Path, data: &[u8], mode: u32) -> SysResult<()> {
        const OP: Op = Op::CreateFile;
        let mut s = self.lock();
        s.gate(
            OP,
            Some(path),
            &format!("{mode:o} {}", String::from_utf8_lossy(data).trim_end()),
        )?;
        if !s.parent_is_dir(path) {
            return Err(err(OP, path, libc::ENOENT));
        }
        match s.tree.get_mut(path) {
            Some(Node::File(_, d)) => {
                *d = data.to_vec();
                Ok(())
            }
            Some(_) => Err(err(OP, path, libc::EISDIR)),
            None => {
                let ino = s.ino();
                let meta = Meta {
                    mode: mode & 0o7777,
                    uid: 0,
                    gid: 0,
                    ino,
                };
                s.tree
                    .insert(path.to_path_buf(), Node::File(meta, data.to_vec()));
                Ok(())
            }
        }
    }

    /// Checks that the parent is a directory outside any bpffs and logs the
    /// call; the returned fd excludes nothing (real exclusion is a root-tier
    /// test).
    fn lock_file(&self, path: &Path, _timeout: Duration) -> SysResult<OwnedFd> {
        const OP: Op = Op::Lock;
        let mut s = self.lock();
        s.gate(OP, Some(path), "")?;
        if !s.parent_is_dir(path) {
            return Err(err(OP, path, libc::ENOENT));
        }
        if s.in_bpffs(path) {
            return Err(err(OP, path, libc::EPERM));
        }
        nix::sys::memfd::memfd_create(c"fake-lock", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| err(OP, path, e as i32))
    }
}

impl Process for FakeSys {
    fn uname(&self) -> SysResult<(String, String)> {
        let mut s = self.lock();
        s.gate(Op::Uname, None, "")?;
        Ok(s.uname.clone())
    }

    fn credentials(&self) -> SysResult<Credentials> {
        let mut s = self.lock();
        s.gate(Op::Credentials, None, "")?;
        Ok(s.credentials.clone())
    }

    fn raise_nofile_limit(&self) -> SysResult<u64> {
        let mut s = self.lock();
        s.gate(Op::Rlimit, None, "")?;
        Ok(s.nofile)
    }

    fn page_size(&self) -> SysResult<u32> {
        let mut s = self.lock();
        s.gate(Op::PageSize, None, "")?;
        Ok(s.page_size)
    }

    /// 4 GiB and 2 CPUs.
    fn machine(&self) -> SysResult<Machine> {
        let mut s = self.lock();
        s.gate(Op::Machine, None, "")?;
        Ok(Machine {
            memory: 4 << 30,
            cpus: 2,
        })
    }

    /// Logged as `execve <path> <argv...>`; the fake cannot replace the
    /// process, so it reports `ENOEXEC` (after the log line tests look for).
    fn set_umask(&self, _mask: u32) -> u32 {
        0
    }

    fn exec(&self, path: &Path, argv: &[OsString]) -> SysError {
        let mut s = self.lock();
        let argv: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        match s.gate(Op::Exec, Some(path), &argv.join(" ")) {
            Err(e) => e,
            Ok(()) => err(Op::Exec, path, libc::ENOEXEC),
        }
    }
}

/// A stand-in for the kernel's program tag: a hash of the instructions.
/// The tag Linux 6.18 gives a program of these instructions.
fn fake_tag(insns: &[u8]) -> [u8; 8] {
    let [_, sha256] = crate::progtag::kernel_tags(insns);
    sha256
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(name: &str) -> MapCreateAttr {
        MapCreateAttr {
            map_type: bpf_map_type::BPF_MAP_TYPE_ARRAY as u32,
            key_size: 4,
            value_size: 8,
            max_entries: 2,
            map_flags: 0,
            name: name.into(),
            btf: None,
        }
    }

    #[test]
    fn every_op_passes_the_injection_gate() {
        // Injecting into any operation takes effect: one gate serves all.
        let f = FakeSys::new();
        f.mount_bpffs("/bpf");
        f.add_file("/f", "x");
        for op in Op::ALL {
            f.fail_all(op, libc::EIO);
        }
        let p = Path::new("/bpf/m");
        let fd = std::fs::File::open("/dev/null").expect("null");
        let checks: Vec<(Op, Option<i32>)> = vec![
            (
                Op::MapCreate,
                f.map_create(&array("m")).err().and_then(|e| e.errno()),
            ),
            (Op::Lstat, f.lstat(p).err().and_then(|e| e.errno())),
            (Op::Statfs, f.statfs(p).err().and_then(|e| e.errno())),
            (
                Op::ReadFile,
                f.read_file(Path::new("/f"), 10)
                    .err()
                    .and_then(|e| e.errno()),
            ),
            (
                Op::ObjPin,
                f.obj_pin(fd.as_fd(), p).err().and_then(|e| e.errno()),
            ),
            (Op::Chmod, f.chmod(p, 0).err().and_then(|e| e.errno())),
            (Op::Uname, f.uname().err().and_then(|e| e.errno())),
            (Op::Exec, f.exec(p, &[]).errno()),
        ];
        for (op, errno) in checks {
            assert_eq!(errno, Some(libc::EIO), "{op:?}");
        }
    }

    #[test]
    fn pin_get_info_round_trip() {
        let f = FakeSys::new();
        f.mount_bpffs("/bpf");
        let id = f.pin_new_map("/bpf/m", &array("m")).expect("pin");
        let fd = f
            .obj_get(Path::new("/bpf/m"), 0, ObjKind::Map)
            .expect("get");
        let info = f.map_info(fd.as_fd()).expect("info");
        assert_eq!((info.id, info.value_size), (id, 8));
        // Like LinuxSys: a pin of the other kind is refused.
        let e = f
            .obj_get(Path::new("/bpf/m"), 0, ObjKind::Prog)
            .expect_err("a map is not a program");
        assert_eq!(e.errno(), Some(libc::EINVAL));
        assert_eq!(f.pins().len(), 1);
        assert_eq!(
            f.lstat(Path::new("/bpf/m")).expect("lstat").perm(),
            0o600,
            "new pins are 0600 like bpffs with umask 077"
        );
    }

    #[test]
    fn pin_rules_follow_the_kernel() {
        let f = FakeSys::new();
        f.mount_bpffs("/bpf");
        f.add_dir("/tmp");
        let fd = f.map_create(&array("m")).expect("create");
        let e = f.obj_pin(fd.as_fd(), Path::new("/tmp/m")).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EPERM), "outside bpffs");
        let e = f.obj_pin(fd.as_fd(), Path::new("/bpf/no/m")).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENOENT));
        f.obj_pin(fd.as_fd(), Path::new("/bpf/m")).expect("pin");
        let e = f.obj_pin(fd.as_fd(), Path::new("/bpf/m")).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EEXIST));
        assert_eq!(
            f.statfs(Path::new("/bpf")).expect("statfs").f_type,
            BPF_FS_MAGIC
        );
        assert_eq!(
            f.statfs(Path::new("/tmp")).expect("statfs").f_type,
            TMPFS_MAGIC
        );
    }

    #[test]
    fn fds_are_identified_by_inode_not_number() {
        let f = FakeSys::new();
        let a = f.map_create(&array("a")).expect("a");
        let id_a = f.map_info(a.as_fd()).expect("info").id;
        drop(a);
        let b = f.map_create(&array("b")).expect("b");
        let info = f.map_info(b.as_fd()).expect("info");
        assert_ne!(info.id, id_a);
        let null = std::fs::File::open("/dev/null").expect("open");
        assert_eq!(
            f.map_info(null.as_fd()).unwrap_err().errno(),
            Some(libc::EBADF)
        );
    }

    #[test]
    fn injected_failures_and_log() {
        let f = FakeSys::new();
        f.fail_map_create("bad", libc::ENOMEM);
        assert_eq!(
            f.map_create(&array("bad")).unwrap_err().errno(),
            Some(libc::ENOMEM)
        );
        f.fail_prog_load("p", libc::EACCES, "0: R0 !read_ok\n");
        let insns = [0xb7u8, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
        let attr = ProgLoadAttr {
            prog_type: 1,
            expected_attach_type: 0,
            insns: &insns,
            license: "GPL",
            kern_version: 0,
            name: "p",
        };
        let mut small = [0u8; 4];
        assert_eq!(
            f.prog_load(&attr, &mut small).unwrap_err().errno(),
            Some(libc::ENOSPC)
        );
        let mut big = [0u8; 64];
        assert_eq!(
            f.prog_load(&attr, &mut big).unwrap_err().errno(),
            Some(libc::EACCES)
        );
        assert!(big.starts_with(b"0: R0 !read_ok\n\0"));
        assert!(f.calls().iter().any(|c| c == "BPF_MAP_CREATE bad"));
    }

    #[test]
    fn pseudo_map_fd_must_be_a_live_map() {
        let f = FakeSys::new();
        let m = f.map_create(&array("m")).expect("m");
        let mut insns = vec![0x18, 0x11, 0, 0];
        insns.extend(m.as_raw_fd().to_le_bytes());
        insns.extend([0u8; 8]);
        insns.extend([0x95, 0, 0, 0, 0, 0, 0, 0]);
        let attr = ProgLoadAttr {
            prog_type: 1,
            expected_attach_type: 0,
            insns: &insns,
            license: "GPL",
            kern_version: 0,
            name: "p",
        };
        let p = f.prog_load(&attr, &mut []).expect("load");
        let id = f.prog_info(p.as_fd()).expect("info").id;
        let mid = f.map_info(m.as_fd()).expect("info").id;
        assert_eq!(f.prog_by_id(id).expect("prog").map_ids, vec![mid]);
        let mut bad = insns.clone();
        bad[4..8].copy_from_slice(&(-1i32).to_le_bytes());
        let attr = ProgLoadAttr {
            insns: &bad,
            ..attr
        };
        assert_eq!(
            f.prog_load(&attr, &mut []).unwrap_err().errno(),
            Some(libc::EBADF)
        );
    }
}
