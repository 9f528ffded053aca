//! Where flysim may write: folders it created, and nothing else.
//!
//! Every folder flysim creates for results carries a marker file, [`MARKER`], that lists the
//! files flysim put there. flysim writes into a folder only if the folder does not exist yet
//! (it then creates it) or carries the marker; it replaces a folder only if every file in it is
//! one the marker lists; and it deletes only files the marker lists. Files, devices, symbolic
//! links, the working folder and its parents, `/` and the home folder are never targets.
//!
//! Replacing a run's folder is atomic: the new files go into a hidden sibling
//! `.NAME.flysim-tmp-PID`, the old folder is renamed to `.NAME.flysim-old-PID`, the new one into
//! place, then the old one's listed files are removed. Each hidden sibling holds a lock file
//! (an OS file lock, released when the process ends, however it ends) while its writer works,
//! so the next write into the same place recognises siblings whose writer died and removes
//! them. A sweep folder is locked the same way for as long as a sweep writes it.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// The marker file of a folder flysim created.
pub const MARKER: &str = ".flysim";
/// The lock file inside a folder flysim is writing.
pub const LOCK: &str = ".flysim-lock";
const MARKER_HEADER: &str = "# flysim output folder. flysim may replace this folder and delete the files listed below; it touches nothing else.";
const TMP_TAG: &str = ".flysim-tmp-";
const OLD_TAG: &str = ".flysim-old-";
/// Longest final path component the hidden siblings leave room for (255 bytes on common
/// file systems, less the `.`, the tag and a process id).
const MAX_NAME_BYTES: usize = 255 - 1 - TMP_TAG.len() - 10;
/// Most entries a folder may hold before flysim refuses to inspect it for replacement.
const MAX_ENTRIES: usize = 100_000;

/// Why flysim will not write, or could not write, an output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The target is not flysim's to write.
    #[error("{path}: {reason}")]
    Refused {
        /// The path as the user gave it.
        path: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// The file system failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder involved (as the user will see it, never a temporary name).
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn refused(path: &Path, reason: impl Into<String>) -> OutputError {
    OutputError::Refused {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn io<T>(shown: &Path, r: std::io::Result<T>) -> Result<T, OutputError> {
    r.map_err(|source| OutputError::Io {
        path: shown.display().to_string(),
        source,
    })
}

fn io_err(shown: &Path, source: std::io::Error) -> OutputError {
    OutputError::Io {
        path: shown.display().to_string(),
        source,
    }
}

/// What an output path is now.
#[derive(Debug, PartialEq, Eq)]
pub enum Existing {
    /// Nothing is there yet.
    Nothing,
    /// A folder carrying flysim's marker; the files it lists.
    Ours(BTreeSet<String>),
}

/// The final component's name, checked for length.
fn final_name(dir: &Path) -> Result<String, OutputError> {
    let name = match dir.components().next_back() {
        Some(Component::Normal(n)) => n.to_string_lossy().into_owned(),
        _ => {
            return Err(refused(
                dir,
                "is not a folder name flysim can create (it ends in `.`, `..` or `/`); give a new folder such as output/NAME",
            ));
        }
    };
    if name.len() > MAX_NAME_BYTES {
        return Err(refused(
            dir,
            format!(
                "the folder name is {} bytes long; at most {MAX_NAME_BYTES} bytes fit beside flysim's temporary names",
                name.len()
            ),
        ));
    }
    Ok(name)
}

/// Absolute form of `p` with `.` and `..` resolved against the real parents that exist.
fn absolute(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    // Canonicalise the longest prefix that exists, so symbolic links in parents resolve.
    let mut existing = abs.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(n), Some(parent)) => {
                rest.push(n);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = fs::canonicalize(&existing).unwrap_or(existing);
    for n in rest.into_iter().rev() {
        out.push(n);
    }
    out
}

/// Refuses paths that must never be an output folder, whatever they hold: `/`, the home
/// folder, the working folder and its parents.
fn refuse_special(dir: &Path) -> Result<(), OutputError> {
    let abs = absolute(dir);
    if abs.parent().is_none() {
        return Err(refused(
            dir,
            "is the root folder; give a folder of its own, such as output/NAME",
        ));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
        && abs == absolute(Path::new(&home))
    {
        return Err(refused(
            dir,
            "is your home folder; give a folder of its own, such as output/NAME",
        ));
    }
    if let Ok(cwd) = std::env::current_dir() {
        let cwd = fs::canonicalize(&cwd).unwrap_or(cwd);
        if cwd.starts_with(&abs) {
            return Err(refused(
                dir,
                "is the working folder or one of its parents; give a folder of its own, such as output/NAME",
            ));
        }
    }
    Ok(())
}

/// Reads a marker file: the relative paths it lists.
fn read_marker(dir: &Path) -> Option<BTreeSet<String>> {
    let path = dir.join(MARKER);
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 64 << 20 {
        return None;
    }
    let text = fs::read_to_string(&path).ok()?;
    let mut lines = text.lines();
    if lines.next() != Some(MARKER_HEADER) {
        return None;
    }
    Some(
        lines
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect(),
    )
}

fn marker_bytes<'a>(files: impl IntoIterator<Item = &'a String>) -> Vec<u8> {
    let mut s = String::from(MARKER_HEADER);
    s.push('\n');
    for f in files {
        s.push_str(f);
        s.push('\n');
    }
    s.into_bytes()
}

/// Checks that flysim may write its results at `dir`, changing nothing: it does not exist, or
/// it is a folder that carries flysim's marker.
pub fn inspect(dir: &Path) -> Result<Existing, OutputError> {
    if dir.as_os_str().is_empty() {
        return Err(refused(
            dir,
            "an empty path; give a folder such as output/NAME",
        ));
    }
    final_name(dir)?;
    refuse_special(dir)?;
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => return Err(io_err(dir, e)),
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Err(refused(
            dir,
            "is a symbolic link; flysim does not write through links. Give the folder it points to, or a new folder",
        ));
    }
    if !ft.is_dir() {
        let what = if ft.is_file() {
            "a file"
        } else {
            "a device or other special file"
        };
        return Err(refused(
            dir,
            format!(
                "is {what}, not a folder; flysim leaves it untouched. Give a folder that does not exist yet"
            ),
        ));
    }
    match read_marker(dir) {
        Some(files) => Ok(Existing::Ours(files)),
        None => Err(refused(
            dir,
            format!(
                "exists and was not created by flysim (it has no {MARKER} marker); flysim never writes into a folder it did not create. Give a folder that does not exist yet, or remove this one yourself"
            ),
        )),
    }
}

/// Checks, changing nothing, that `file` is a name flysim may create: it does not exist (flysim
/// never writes over a file it did not make) and its folder does.
pub fn check_new_file(file: &Path) -> Result<(), OutputError> {
    if fs::symlink_metadata(file).is_ok() {
        return Err(refused(
            file,
            "exists; flysim never writes over a file it did not create. Give a new name, or remove it yourself",
        ));
    }
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(refused(
            file,
            format!("its folder {} does not exist", parent.display()),
        ));
    }
    Ok(())
}

/// Creates `file`, which must not exist, with `bytes`. The file is created exclusively (a file
/// that appeared since [`check_new_file`] is left alone); if writing fails, the partial file,
/// which flysim made, is removed.
pub fn write_new_file(file: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    use std::io::Write;
    let io = |source| OutputError::Io {
        path: file.display().to_string(),
        source,
    };
    let mut f = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(refused(
                file,
                "exists; flysim never writes over a file it did not create",
            ));
        }
        Err(e) => return Err(io(e)),
    };
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = fs::remove_file(file);
        return Err(io(e));
    }
    Ok(())
}

/// Checks, changing nothing, that [`replace_dir`] would accept `dir`.
pub fn check_replaceable(dir: &Path) -> Result<(), OutputError> {
    if let Existing::Ours(listed) = inspect(dir)? {
        check_only_ours(dir, &listed)?;
    }
    Ok(())
}

/// Every file and folder below `dir`, as relative paths with `/`; `Err` names the first entry
/// that is neither a plain file nor a folder, or a folder too large to inspect.
fn walk(dir: &Path) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((abs, rel)) = stack.pop() {
        let entries = fs::read_dir(&abs).map_err(|e| format!("{rel}: {e}"))?;
        for e in entries {
            let e = e.map_err(|e| format!("{rel}: {e}"))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let ft = e.file_type().map_err(|e| format!("{r}: {e}"))?;
            if ft.is_dir() {
                out.push((r.clone(), true));
                stack.push((e.path(), r));
            } else if ft.is_file() {
                out.push((r, false));
            } else {
                return Err(format!("{r} (a link or special file)"));
            }
            if out.len() > MAX_ENTRIES {
                return Err(format!("more than {MAX_ENTRIES} entries"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Checks that every entry of the marked folder `dir` is a file its marker lists (or a folder
/// holding only such files); names the first one that is not.
fn check_only_ours(dir: &Path, listed: &BTreeSet<String>) -> Result<(), OutputError> {
    let entries = walk(dir).map_err(|what| {
        refused(dir, format!("holds {what}, which flysim did not write; flysim replaces only folders that hold nothing but its own files. Move it away, or give another folder"))
    })?;
    for (rel, is_dir) in entries {
        let ours = if is_dir {
            let prefix = format!("{rel}/");
            listed.iter().any(|f| f.starts_with(&prefix))
        } else {
            rel == MARKER || rel == LOCK || listed.contains(&rel)
        };
        if !ours {
            return Err(refused(
                dir,
                format!(
                    "holds {rel}, which flysim did not write; flysim replaces only folders that hold nothing but its own files. Move it away, or give another folder"
                ),
            ));
        }
    }
    Ok(())
}

/// Deletes the listed files of a marked folder, then its folders if they are empty, then the
/// folder itself if it is empty. Anything else stays.
fn remove_ours(dir: &Path, listed: &BTreeSet<String>) {
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for rel in listed.iter().map(String::as_str).chain([LOCK, MARKER]) {
        if !safe_relative(rel) {
            continue;
        }
        let p = dir.join(rel);
        if fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
            let _ = fs::remove_file(&p);
        }
        let mut parent = p.parent();
        while let Some(d) = parent.filter(|d| d.starts_with(dir) && *d != dir) {
            dirs.insert(d.to_path_buf());
            parent = d.parent();
        }
    }
    // Deepest first; `remove_dir` only removes empty folders.
    for d in dirs.iter().rev() {
        let _ = fs::remove_dir(d);
    }
    let _ = fs::remove_dir(dir);
}

/// Whether a listed name is a plain relative path (no `..`, not absolute).
fn safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// A held lock file; the lock is released when this is dropped or the process ends.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes the lock file in `dir`, writing our process id into it; `Ok(None)` if another process
/// holds it.
fn try_lock(dir: &Path, shown: &Path) -> Result<Option<Lock>, OutputError> {
    let path = dir.join(LOCK);
    let mut file = io(
        shown,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path),
    )?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(None),
        Err(TryLockError::Error(e)) => return Err(io_err(shown, e)),
    }
    // Ours now: record who holds it, for the message another process would print.
    io(shown, file.set_len(0))?;
    io(shown, writeln!(file, "{}", std::process::id()))?;
    Ok(Some(Lock { _file: file }))
}

/// The process id recorded in a lock file, for messages.
fn lock_holder(dir: &Path) -> String {
    let mut s = String::new();
    let _ = File::open(dir.join(LOCK)).and_then(|f| f.take(32).read_to_string(&mut s));
    match s.trim() {
        "" => "another flysim process".into(),
        pid => format!("flysim process {pid}"),
    }
}

/// Removes hidden siblings of `dir` that an earlier, killed flysim left: marked, with a lock
/// file nobody holds.
pub fn clean_stale_siblings(dir: &Path) {
    let Ok(name) = final_name(dir) else { return };
    let parent = parent_of(dir);
    let Ok(entries) = fs::read_dir(&parent) else {
        return;
    };
    let tmp_prefix = format!(".{name}{TMP_TAG}");
    let old_prefix = format!(".{name}{OLD_TAG}");
    let own_pid = std::process::id().to_string();
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = n
            .strip_prefix(&tmp_prefix)
            .or_else(|| n.strip_prefix(&old_prefix))
        else {
            continue;
        };
        if pid == own_pid || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = e.path();
        let Some(listed) = read_marker(&path) else {
            continue;
        };
        if let Ok(Some(lock)) = try_lock(&path, &path) {
            drop(lock);
            remove_ours(&path, &listed);
        }
    }
}

fn parent_of(dir: &Path) -> PathBuf {
    dir.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Writes `files` as the folder `dir`, atomically: the folder appears complete or not at all,
/// replacing an earlier flysim result there. Refuses (changing nothing) where [`inspect`] does
/// or where the existing folder holds a file flysim did not write.
pub fn replace_dir(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), OutputError> {
    let existing = inspect(dir)?;
    if let Existing::Ours(listed) = &existing {
        check_only_ours(dir, listed)?;
    }
    let name = final_name(dir)?;
    let parent = parent_of(dir);
    io(&parent, fs::create_dir_all(&parent))?;
    clean_stale_siblings(dir);
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}{TMP_TAG}{pid}"));
    if fs::symlink_metadata(&tmp).is_ok() {
        // Our own leftover from this very process id (a reused pid): only if it is marked.
        match read_marker(&tmp) {
            Some(listed) => remove_ours(&tmp, &listed),
            None => {
                return Err(refused(
                    &tmp,
                    "exists and is not flysim's; remove it yourself",
                ));
            }
        }
    }
    io(dir, fs::create_dir(&tmp))?;
    let lock = try_lock(&tmp, dir)?;
    let listed: BTreeSet<String> = files.iter().map(|(n, _)| n.clone()).collect();
    let result = (|| {
        // The marker first, listing everything, so a killed write can be cleaned up.
        write_plain(&tmp.join(MARKER), &marker_bytes(&listed), &dir.join(MARKER))?;
        for (rel, bytes) in files {
            if !safe_relative(rel) {
                return Err(refused(dir, format!("internal: unsafe file name {rel:?}")));
            }
            let path = tmp.join(rel);
            if let Some(p) = path.parent() {
                io(&dir.join(rel), fs::create_dir_all(p))?;
            }
            write_plain(&path, bytes, &dir.join(rel))?;
        }
        match &existing {
            Existing::Nothing => io(dir, fs::rename(&tmp, dir)),
            Existing::Ours(old_listed) => {
                let old = parent.join(format!(".{name}{OLD_TAG}{pid}"));
                // Hold the old folder's lock while it is moved aside and emptied.
                let Some(old_lock) = try_lock(dir, dir)? else {
                    return Err(refused(
                        dir,
                        format!(
                            "is being written by {} right now; wait for it to finish, or give another folder",
                            lock_holder(dir)
                        ),
                    ));
                };
                io(dir, fs::rename(dir, &old))?;
                if let Err(e) = fs::rename(&tmp, dir) {
                    let _ = fs::rename(&old, dir);
                    return Err(io_err(dir, e));
                }
                drop(old_lock);
                remove_ours(&old, old_listed);
                Ok(())
            }
        }
    })();
    drop(lock);
    let _ = fs::remove_file(if result.is_ok() {
        dir.join(LOCK)
    } else {
        tmp.join(LOCK)
    });
    if result.is_err() {
        remove_ours(&tmp, &listed);
    }
    result
}

/// Writes and syncs one file (created or truncated: only ever a path flysim owns).
fn write_plain(path: &Path, bytes: &[u8], shown: &Path) -> Result<(), OutputError> {
    let mut f = io(shown, File::create(path))?;
    io(shown, f.write_all(bytes))?;
    io(shown, f.sync_all())
}

/// A folder flysim writes file by file (a sweep's), held locked while this value lives.
#[derive(Debug)]
pub struct OwnedDir {
    dir: PathBuf,
    listed: BTreeSet<String>,
    _lock: Lock,
}

impl OwnedDir {
    /// Creates `dir` (and its parents) or opens it if it carries flysim's marker, and locks it.
    /// Refuses where [`inspect`] does, or when another flysim process holds its lock.
    pub fn open(dir: &Path) -> Result<OwnedDir, OutputError> {
        let listed = match inspect(dir)? {
            Existing::Nothing => {
                let parent = parent_of(dir);
                io(&parent, fs::create_dir_all(&parent))?;
                io(dir, fs::create_dir(dir))?;
                let listed = BTreeSet::new();
                write_plain(&dir.join(MARKER), &marker_bytes(&listed), &dir.join(MARKER))?;
                listed
            }
            Existing::Ours(listed) => listed,
        };
        let Some(lock) = try_lock(dir, dir)? else {
            return Err(refused(
                dir,
                format!(
                    "is being written by {} right now; wait for it to finish, or give another folder",
                    lock_holder(dir)
                ),
            ));
        };
        Ok(OwnedDir {
            dir: dir.to_path_buf(),
            listed,
            _lock: lock,
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Records `rel` as flysim's before it is first written (so the marker always covers it).
    pub fn claim(&mut self, rel: &str) -> Result<PathBuf, OutputError> {
        if !safe_relative(rel) {
            return Err(refused(
                &self.dir,
                format!("internal: unsafe file name {rel:?}"),
            ));
        }
        let path = self.dir.join(rel);
        if !self.listed.contains(rel) {
            if let Ok(m) = fs::symlink_metadata(&path) {
                if !m.is_file() || m.file_type().is_symlink() {
                    return Err(refused(
                        &path,
                        "is not a plain file flysim wrote; flysim leaves it untouched",
                    ));
                }
                return Err(refused(
                    &path,
                    "exists but flysim did not write it; flysim leaves it untouched. Move it away, or give another folder",
                ));
            }
            self.listed.insert(rel.to_string());
            let marker = self.dir.join(MARKER);
            write_atomic(&marker, &marker_bytes(&self.listed), &marker)?;
        }
        Ok(path)
    }

    /// Writes one file of the folder atomically (a temporary name, then a rename).
    pub fn write(&mut self, rel: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let path = self.claim(rel)?;
        if let Some(p) = path.parent() {
            io(&path, fs::create_dir_all(p))?;
        }
        write_atomic(&path, bytes, &path)
    }
}

/// Writes `path` through a temporary sibling and a rename.
fn write_atomic(path: &Path, bytes: &[u8], shown: &Path) -> Result<(), OutputError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}{TMP_TAG}{}", std::process::id()));
    write_plain(&tmp, bytes, shown)?;
    io(shown, fs::rename(&tmp, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> Vec<(String, Vec<u8>)> {
        names
            .iter()
            .map(|n| (n.to_string(), b"x".to_vec()))
            .collect()
    }

    #[test]
    fn a_new_folder_is_created_marked_and_replaced() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("out");
        replace_dir(&d, &files(&["a.csv", "rep-000/b.csv"])).unwrap();
        assert_eq!(
            inspect(&d).unwrap(),
            Existing::Ours(["a.csv".to_string(), "rep-000/b.csv".to_string()].into())
        );
        replace_dir(&d, &files(&["c.csv"])).unwrap();
        assert!(d.join("c.csv").exists() && !d.join("a.csv").exists());
        assert!(!d.join(LOCK).exists());
        let names: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out")]);
    }

    #[test]
    fn foreign_folders_files_and_contents_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("mine");
        fs::create_dir(&d).unwrap();
        fs::write(d.join("notes.txt"), "x").unwrap();
        assert!(
            replace_dir(&d, &files(&["a"]))
                .unwrap_err()
                .to_string()
                .contains("not created by flysim")
        );
        let f = t.path().join("f.toml");
        fs::write(&f, "keep").unwrap();
        assert!(
            replace_dir(&f, &files(&["a"]))
                .unwrap_err()
                .to_string()
                .contains("is a file")
        );
        assert_eq!(fs::read_to_string(&f).unwrap(), "keep");
        let o = t.path().join("o");
        replace_dir(&o, &files(&["a"])).unwrap();
        fs::write(o.join("notes.txt"), "mine").unwrap();
        let e = replace_dir(&o, &files(&["a"])).unwrap_err().to_string();
        assert!(e.contains("holds notes.txt"), "{e}");
        assert_eq!(fs::read_to_string(o.join("notes.txt")).unwrap(), "mine");
    }

    #[test]
    fn a_locked_folder_refuses_a_second_writer() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("s");
        let mut first = OwnedDir::open(&d).unwrap();
        first.write("runs.csv", b"1").unwrap();
        let e = OwnedDir::open(&d).unwrap_err().to_string();
        assert!(e.contains("is being written by flysim process"), "{e}");
        drop(first);
        let again = OwnedDir::open(&d).unwrap();
        assert!(again.listed.contains("runs.csv"));
    }

    #[test]
    fn stale_siblings_of_a_killed_writer_are_removed_and_others_kept() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("out");
        // A killed writer's folder: marked, its lock free.
        let stale = t.path().join(".out.flysim-tmp-999999");
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join(MARKER), marker_bytes(&["big.csv".to_string()])).unwrap();
        fs::write(stale.join("big.csv"), "x").unwrap();
        fs::write(stale.join(LOCK), "999999").unwrap();
        // Something that only looks like one: no marker.
        let lookalike = t.path().join(".out.flysim-tmp-1");
        fs::create_dir(&lookalike).unwrap();
        replace_dir(&d, &files(&["a"])).unwrap();
        assert!(!stale.exists());
        assert!(lookalike.exists());
    }
}
