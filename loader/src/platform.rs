//! Platform facts the boot flow depends on: API level, codename, build type,
//! and the `bpf.progs_loaded` property that tells the rest of the system the
//! programs are in place.
//!
//! On Android the facts are system properties (`__system_property_get`). On
//! any other system (a Linux dev board, the QEMU image) they come from a
//! property file in `build.prop` format, by default
//! [`paths::DEFAULT_PROPERTY_FILE`]:
//!
//! ```text
//! # comments and blank lines are ignored; `key=value`, whitespace trimmed
//! ro.build.version.sdk=35
//! ro.build.version.codename=REL
//! ro.build.type=user
//! ```
//!
//! As with init, a `ro.` property keeps the first value it is given.
//! Command-line overrides (`--api-level`, `--build-type`) win over both.

use crate::boot::gates::DeviceKind;
use crate::gate::BuildType;
use crate::paths;
use crate::release::API_FUTURE;
use crate::sys::{Op, Sys, SysError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Property holding the SDK level.
pub const PROP_SDK: &str = "ro.build.version.sdk";
/// Property holding the codename (`REL` on released builds).
pub const PROP_CODENAME: &str = "ro.build.version.codename";
/// Property holding the build type.
pub const PROP_BUILD_TYPE: &str = "ro.build.type";
/// With [`PROP_OEM_KEY1`], tells an Android TV device.
pub const PROP_PHONE_TYPE: &str = "gsm.current.phone-type";
/// Starts with `ATV00` on Android TV devices.
pub const PROP_OEM_KEY1: &str = "ro.oem.key1";
/// Contains `watch` on Wear OS devices.
pub const PROP_CHARACTERISTICS: &str = "ro.build.characteristics";
/// The API level the device first shipped with.
pub const PROP_FIRST_API_LEVEL: &str = "ro.board.first_api_level";

/// Every property the boot flow reads.
pub const PROPS: [&str; 7] = [
    PROP_SDK,
    PROP_CODENAME,
    PROP_BUILD_TYPE,
    PROP_PHONE_TYPE,
    PROP_OEM_KEY1,
    PROP_CHARACTERISTICS,
    PROP_FIRST_API_LEVEL,
];

/// Largest property file read (real `build.prop` files are a few KiB).
const MAX_PROPERTY_FILE_LEN: u64 = 1 << 20;

/// A set of properties (`key=value`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    map: BTreeMap<String, String>,
}

impl Properties {
    /// Parses `build.prop` text. Lines without `=` are ignored (init logs and
    /// ignores them too); a `ro.` key keeps its first value, others the last.
    pub fn parse(text: &str) -> Properties {
        let mut map = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if key.is_empty() {
                continue;
            }
            if key.starts_with("ro.") && map.contains_key(key) {
                continue;
            }
            map.insert(key.to_string(), value.trim().to_string());
        }
        Properties { map }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Sets `key` (used by tests and by the Android reader).
    pub fn set(&mut self, key: &str, value: &str) {
        self.map.insert(key.to_string(), value.to_string());
    }
}

/// Why the platform facts could not be established.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The property file could not be read.
    #[error("cannot read property file {}: {source}", crate::logging::shown(.path))]
    PropertyFile {
        /// The file.
        path: PathBuf,
        /// The failed read.
        #[source]
        source: SysError,
    },
    /// The property file is not UTF-8.
    #[error("property file {} is not UTF-8 text", crate::logging::shown(.path))]
    PropertyFileEncoding {
        /// The file.
        path: PathBuf,
    },
    /// `ro.build.version.sdk` is missing or not a number on a `REL` build.
    #[error("{PROP_SDK} is {} on a REL build; cannot tell the API level", .value.as_deref().map(|v| format!("'{v}'")).unwrap_or_else(|| "unset".into()))]
    BadSdk {
        /// The value found, if any.
        value: Option<String>,
    },
    /// `ro.build.type` is not `eng`, `user` or `userdebug`.
    #[error("{PROP_BUILD_TYPE} is {}; must be eng, user or userdebug", .value.as_deref().map(|v| format!("'{v}'")).unwrap_or_else(|| "unset".into()))]
    BadBuildType {
        /// The value found, if any.
        value: Option<String>,
    },
    /// Setting `bpf.progs_loaded` failed.
    #[error("cannot set {name}=1 ({}): {source}", crate::logging::shown(.path))]
    SetProperty {
        /// The property.
        name: &'static str,
        /// Where it was written (the runtime property file, or the property
        /// service on Android).
        path: PathBuf,
        /// The failed call.
        #[source]
        source: SysError,
    },
}

/// Values given on the command line, which win over properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--api-level`.
    pub api_level: Option<u32>,
    /// `--build-type` (validated like the property).
    pub build_type: Option<String>,
    /// `--release`: whose rules to follow, instead of detecting it.
    pub release: Option<crate::release::Release>,
}

/// The facts the boot flow gates on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformFacts {
    /// API level (one more than the SDK level on an unreleased platform).
    pub api_level: u32,
    /// `ro.build.version.codename` (`REL` if unset, as Android defaults it).
    pub codename: String,
    /// Build type.
    pub build_type: BuildType,
    /// TV, Wear, first API level.
    pub device: DeviceKind,
}

impl PlatformFacts {
    /// Resolves the facts from properties and overrides as Android 15 does:
    /// the SDK level, plus one when the codename is not `REL` (an
    /// unreleased platform is the next API level); without an SDK level on
    /// an unreleased platform, [`API_FUTURE`].
    pub fn resolve(props: &Properties, o: &Overrides) -> Result<PlatformFacts, PlatformError> {
        let codename = props.get(PROP_CODENAME).unwrap_or("REL").to_string();
        let sdk = props.get(PROP_SDK);
        let sdk_num = sdk.and_then(|s| s.trim().parse::<u32>().ok());
        let api_level = match (o.api_level, sdk_num) {
            (Some(api), _) => api,
            (None, Some(n)) if codename != "REL" => n.saturating_add(1),
            (None, Some(n)) => n,
            (None, None) if codename != "REL" => API_FUTURE,
            (None, None) => {
                return Err(PlatformError::BadSdk {
                    value: sdk.map(str::to_string),
                })
            }
        };
        let device = DeviceKind {
            tv: props.get(PROP_PHONE_TYPE).unwrap_or("").is_empty()
                && props.get(PROP_OEM_KEY1).unwrap_or("").starts_with("ATV00"),
            wear: props
                .get(PROP_CHARACTERISTICS)
                .unwrap_or("")
                .split(',')
                .any(|c| c.trim() == "watch"),
            first_api_level: props
                .get(PROP_FIRST_API_LEVEL)
                .and_then(|s| s.trim().parse().ok()),
        };
        let bt = o
            .build_type
            .as_deref()
            .or_else(|| props.get(PROP_BUILD_TYPE));
        let build_type =
            bt.and_then(BuildType::parse)
                .ok_or_else(|| PlatformError::BadBuildType {
                    value: bt.map(str::to_string),
                })?;
        Ok(PlatformFacts {
            api_level,
            codename,
            build_type,
            device,
        })
    }
}

/// Reads a `build.prop`-format file through `sys`.
pub fn read_property_file(sys: &dyn Sys, path: &Path) -> Result<Properties, PlatformError> {
    let (bytes, _) = sys
        .read_file(path, MAX_PROPERTY_FILE_LEN)
        .map_err(|source| PlatformError::PropertyFile {
            path: path.to_path_buf(),
            source,
        })?;
    let text = String::from_utf8(bytes).map_err(|_| PlatformError::PropertyFileEncoding {
        path: path.to_path_buf(),
    })?;
    Ok(Properties::parse(&text))
}

/// Where the platform facts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertySource {
    /// Android's system properties (only on `target_os = "android"`).
    System,
    /// A `build.prop`-format file.
    File(PathBuf),
}

impl PropertySource {
    /// The default source: system properties on Android, the documented
    /// property file (under `root`) elsewhere.
    pub fn default_for(root: &Path) -> PropertySource {
        if cfg!(target_os = "android") {
            PropertySource::System
        } else {
            PropertySource::File(reroot(root, paths::DEFAULT_PROPERTY_FILE))
        }
    }

    /// Reads the properties the boot flow needs.
    pub fn read(&self, sys: &dyn Sys) -> Result<Properties, PlatformError> {
        match self {
            PropertySource::File(path) => read_property_file(sys, path),
            PropertySource::System => Ok(system::read(&PROPS)),
        }
    }
}

/// Where `bpf.progs_loaded=1` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertySink {
    /// Android's property service (`__system_property_set`).
    System,
    /// A runtime property directory: the file `<dir>/bpf.progs_loaded`
    /// receives `1\n`.
    Dir(PathBuf),
}

impl PropertySink {
    /// The default sink: the property service on Android, the documented
    /// runtime directory (under `root`) elsewhere.
    pub fn default_for(root: &Path) -> PropertySink {
        if cfg!(target_os = "android") {
            PropertySink::System
        } else {
            PropertySink::Dir(reroot(root, paths::DEFAULT_RUNTIME_PROP_DIR))
        }
    }

    /// Sets `bpf.progs_loaded=1`.
    pub fn set_progs_loaded(&self, sys: &dyn Sys) -> Result<(), PlatformError> {
        let name = paths::PROGS_LOADED_PROP;
        match self {
            PropertySink::System => {
                system::set(name, "1").map_err(|source| PlatformError::SetProperty {
                    name,
                    path: PathBuf::from("property service"),
                    source,
                })
            }
            PropertySink::Dir(dir) => {
                let file = dir.join(name);
                let err = |source| PlatformError::SetProperty {
                    name,
                    path: file.clone(),
                    source,
                };
                mkdir_all(sys, dir, 0o755).map_err(err)?;
                sys.create_file(&file, b"1\n", 0o644).map_err(err)
            }
        }
    }
}

/// Creates `dir` and its missing parents with `mode` (existing ones are fine).
fn mkdir_all(sys: &dyn Sys, dir: &Path, mode: u32) -> Result<(), SysError> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        match sys.lstat(d) {
            Ok(st) if st.is_dir() => break,
            Ok(_) => return Err(SysError::from_errno(Op::Mkdir, Some(d), libc::ENOTDIR)),
            Err(e) if e.errno() == Some(libc::ENOENT) => missing.push(d),
            Err(e) => return Err(e),
        }
        cur = d.parent();
    }
    for d in missing.into_iter().rev() {
        match sys.mkdir(d, mode) {
            Ok(()) => {}
            Err(e) if e.errno() == Some(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub use crate::paths::reroot;

#[cfg(target_os = "android")]
mod system {
    //! Android system properties through bionic.
    use super::Properties;
    use crate::sys::{Op, SysError};
    use std::ffi::{CStr, CString};

    /// `PROP_VALUE_MAX` from `<sys/system_properties.h>`.
    const PROP_VALUE_MAX: usize = 92;

    pub(super) fn read(keys: &[&str]) -> Properties {
        let mut props = Properties::default();
        for key in keys {
            let Ok(name) = CString::new(*key) else {
                continue;
            };
            let mut buf = [0 as libc::c_char; PROP_VALUE_MAX];
            // SAFETY: `name` is NUL-terminated and `buf` holds PROP_VALUE_MAX
            // bytes, the most bionic writes (value plus NUL).
            let len = unsafe { libc::__system_property_get(name.as_ptr(), buf.as_mut_ptr()) };
            if len > 0 {
                // SAFETY: bionic NUL-terminates the value inside `buf`.
                let value = unsafe { CStr::from_ptr(buf.as_ptr()) };
                props.set(key, &value.to_string_lossy());
            }
        }
        props
    }

    pub(super) fn set(name: &str, value: &str) -> Result<(), SysError> {
        let einval = || SysError::from_errno(Op::SetProperty, None, libc::EINVAL);
        let name = CString::new(name).map_err(|_| einval())?;
        let value = CString::new(value).map_err(|_| einval())?;
        // SAFETY: both pointers are valid NUL-terminated strings for the call.
        let rc = unsafe { libc::__system_property_set(name.as_ptr(), value.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(SysError::io(
                Op::SetProperty,
                None,
                std::io::Error::last_os_error(),
            ))
        }
    }
}

#[cfg(not(target_os = "android"))]
mod system {
    //! No property service off Android: [`super::PropertySource::System`]
    //! and [`super::PropertySink::System`] are never the default here.
    use super::Properties;
    use crate::sys::{Op, SysError};

    pub(super) fn read(_keys: &[&str]) -> Properties {
        Properties::default()
    }

    pub(super) fn set(_name: &str, _value: &str) -> Result<(), SysError> {
        Err(SysError::from_errno(Op::SetProperty, None, libc::ENOSYS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(text: &str) -> Properties {
        Properties::parse(text)
    }

    #[test]
    fn build_prop_parsing() {
        let p = props(
            "# comment\n\n ro.build.type = user \nro.build.type=eng\nfoo=1\nfoo=2\nnoequals\n=x\nro.x=a=b\n",
        );
        assert_eq!(
            p.get("ro.build.type"),
            Some("user"),
            "ro. keeps first value"
        );
        assert_eq!(p.get("foo"), Some("2"), "others keep last value");
        assert_eq!(p.get("ro.x"), Some("a=b"));
        assert_eq!(p.get("noequals"), None);
        assert_eq!(p.get(""), None);
    }

    #[test]
    fn api_level_resolution() {
        let rel =
            props("ro.build.version.sdk=34\nro.build.version.codename=REL\nro.build.type=user");
        let f = PlatformFacts::resolve(&rel, &Overrides::default()).unwrap();
        assert_eq!(f.api_level, 34);
        assert_eq!(f.build_type, BuildType::User);
        assert!(!f.device.tv && !f.device.wear);

        // Android 15: an unreleased platform is the next API level.
        let dev =
            props("ro.build.version.sdk=34\nro.build.version.codename=Baklava\nro.build.type=eng");
        let f = PlatformFacts::resolve(&dev, &Overrides::default()).unwrap();
        assert_eq!(f.api_level, 35);
        assert_eq!(f.build_type, BuildType::Eng);

        // An unset codename defaults to REL, as Android's property read does.
        let nocode = props("ro.build.version.sdk=34\nro.build.type=userdebug");
        let f = PlatformFacts::resolve(&nocode, &Overrides::default()).unwrap();
        assert_eq!(f.api_level, 34);

        let nosdk = props("ro.build.version.codename=Baklava\nro.build.type=user");
        let f = PlatformFacts::resolve(&nosdk, &Overrides::default()).unwrap();
        assert_eq!(f.api_level, API_FUTURE);

        let o = Overrides {
            api_level: Some(33),
            build_type: Some("userdebug".into()),
            ..Overrides::default()
        };
        let f = PlatformFacts::resolve(&dev, &o).unwrap();
        assert_eq!((f.api_level, f.build_type), (33, BuildType::Userdebug));

        let tv = props("ro.build.version.sdk=35\nro.build.type=user\nro.oem.key1=ATV00100020\nro.board.first_api_level=33\nro.build.characteristics=tv,nosdcard");
        let f = PlatformFacts::resolve(&tv, &Overrides::default()).unwrap();
        assert!(f.device.tv && !f.device.wear);
        assert_eq!(f.device.first_api_level, Some(33));
        let watch = props("ro.build.version.sdk=35\nro.build.type=user\ngsm.current.phone-type=1\nro.oem.key1=ATV00\nro.build.characteristics=nosdcard,watch");
        let f = PlatformFacts::resolve(&watch, &Overrides::default()).unwrap();
        assert!(!f.device.tv && f.device.wear);
    }

    #[test]
    fn bad_platform_facts_are_errors() {
        let nosdk = props("ro.build.version.codename=REL\nro.build.type=user");
        assert!(matches!(
            PlatformFacts::resolve(&nosdk, &Overrides::default()),
            Err(PlatformError::BadSdk { value: None })
        ));
        let badsdk =
            props("ro.build.version.sdk=v\nro.build.version.codename=REL\nro.build.type=user");
        assert!(matches!(
            PlatformFacts::resolve(&badsdk, &Overrides::default()),
            Err(PlatformError::BadSdk { value: Some(v) }) if v == "v"
        ));
        for bt in ["", "User", "debug"] {
            let p = props(&format!("ro.build.version.sdk=35\nro.build.type={bt}"));
            let e = PlatformFacts::resolve(&p, &Overrides::default()).unwrap_err();
            assert!(matches!(e, PlatformError::BadBuildType { .. }), "{bt}: {e}");
        }
        let notype = props("ro.build.version.sdk=35");
        let e = PlatformFacts::resolve(&notype, &Overrides::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ro.build.type is unset; must be eng, user or userdebug"
        );
    }

    #[test]
    fn reroot_joins_absolute_paths() {
        assert_eq!(reroot(Path::new("/"), "/a/b"), PathBuf::from("/a/b"));
        assert_eq!(
            reroot(Path::new("/stage"), "/a/b"),
            PathBuf::from("/stage/a/b")
        );
    }
}
