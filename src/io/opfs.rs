//! [`FileIo`] over the browser's Origin Private File System (feature `opfs`, wasm32 only).
//!
//! Browsers give dedicated Web Workers synchronous, positional access to files of the origin's
//! private file system through `FileSystemSyncAccessHandle`: `read`/`write` at an offset,
//! `truncate`, `getSize` and `flush` (which makes earlier writes durable). That is exactly the
//! [`FileIo`] contract, so the container, the log and recovery run on it unchanged: a database
//! in the browser is two OPFS files, `name` and `name-wal`, as on disk.
//!
//! Only *opening* a handle is asynchronous (`createSyncAccessHandle` returns a promise), which is
//! why [`open_database`] is an `async fn`; everything after it is synchronous.
//!
//! A sync access handle is exclusive: while one is open, the browser refuses a second one for the
//! same file, from this worker or any other tab, with a `NoModificationAllowedError`. That is the
//! browser's file lock, and [`open_database`] turns it into [`Error::AlreadyOpen`]. A handle is
//! closed when its [`OpfsFile`] is dropped, so closing (or dropping) the database releases it.
//!
//! The handles are JavaScript objects, which are not `Send`; [`FileIo`] must be. A wasm32 module
//! without the `atomics` target feature runs on one thread, so the handle is wrapped in a
//! [`SendWrapper`], which makes that single-thread use checked instead of `unsafe`.

use super::FileIo;
use crate::cf::builder::{Builder, log_path};
use crate::cf::database::Database;
use crate::error::{Error, Result};
use send_wrapper::SendWrapper;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetFileOptions,
    FileSystemReadWriteOptions, FileSystemSyncAccessHandle, WorkerGlobalScope,
};

/// One OPFS file opened for synchronous access (dedicated workers only). Closed on drop.
///
/// ```no_run
/// # async fn demo() -> quiver::Result<()> {
/// use quiver::io::{FileIo, opfs::OpfsFile};
/// let file = OpfsFile::open("scratch.bin").await?;
/// file.write_at(4096, b"hello")?;
/// file.sync_data()?;
/// # Ok(()) }
/// ```
pub struct OpfsFile {
    name: String,
    handle: SendWrapper<FileSystemSyncAccessHandle>,
}

impl fmt::Debug for OpfsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpfsFile")
            .field("name", &self.name)
            .finish()
    }
}

impl OpfsFile {
    /// Opens (creating if missing) the file `name` in the origin's private file system root.
    /// Fails with [`Error::AlreadyOpen`] if a sync access handle to it is open anywhere (this
    /// worker, another worker, another tab), and with [`Error::Io`] outside a dedicated worker.
    ///
    /// ```no_run
    /// # async fn demo() -> quiver::Result<()> {
    /// let file = quiver::io::opfs::OpfsFile::open("notes.qvr").await?;
    /// # Ok(()) }
    /// ```
    pub async fn open(name: &str) -> Result<OpfsFile> {
        let root = root_directory().await?;
        let options = FileSystemGetFileOptions::new();
        options.set_create(true);
        let file: FileSystemFileHandle =
            await_as(root.get_file_handle_with_options(name, &options), name).await?;
        let handle: FileSystemSyncAccessHandle =
            await_as(file.create_sync_access_handle(), name).await?;
        Ok(OpfsFile {
            name: name.to_owned(),
            handle: SendWrapper::new(handle),
        })
    }

    /// The file's name in the OPFS root.
    ///
    /// ```no_run
    /// # async fn demo() -> quiver::Result<()> {
    /// let file = quiver::io::opfs::OpfsFile::open("a.qvr").await?;
    /// assert_eq!(file.name(), "a.qvr");
    /// # Ok(()) }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The handle, or an error if this value somehow reached another thread.
    fn handle(&self) -> io::Result<&FileSystemSyncAccessHandle> {
        self.handle.valid().then(|| &*self.handle).ok_or_else(|| {
            io::Error::other("an OPFS handle was used from a thread other than its own")
        })
    }
}

impl Drop for OpfsFile {
    fn drop(&mut self) {
        self.release();
    }
}

/// Options addressing byte `offset`. OPFS takes offsets as JavaScript numbers, exact up to 2^53.
fn at(offset: u64) -> io::Result<FileSystemReadWriteOptions> {
    if offset > MAX_SAFE_OFFSET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("offset {offset} is past what a JavaScript number addresses exactly"),
        ));
    }
    let options = FileSystemReadWriteOptions::new();
    options.set_at(offset as f64);
    Ok(options)
}

/// 2^53 - 1, `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_OFFSET: u64 = (1 << 53) - 1;

impl FileIo for OpfsFile {
    /// Closes the sync access handle (closing a closed one does nothing), so that the file can
    /// be opened again, from this worker or another.
    fn release(&self) {
        if let Ok(handle) = self.handle() {
            handle.close();
        }
    }

    fn len(&self) -> io::Result<u64> {
        let size = self.handle()?.get_size().map_err(js_io)?;
        Ok(size as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let handle = self.handle()?;
        let mut done = 0;
        while done < buf.len() {
            let options = at(offset + done as u64)?;
            let n = handle
                .read_with_u8_array_and_options(&mut buf[done..], &options)
                .map_err(js_io)? as usize;
            if n == 0 {
                // Past the end of the file: the contract says such bytes read as zeros.
                buf[done..].fill(0);
                return Ok(());
            }
            done += n;
        }
        Ok(())
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let handle = self.handle()?;
        let mut done = 0;
        while done < data.len() {
            let options = at(offset + done as u64)?;
            let n = handle
                .write_with_u8_array_and_options(&data[done..], &options)
                .map_err(js_io)? as usize;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("OPFS wrote nothing at offset {}", offset + done as u64),
                ));
            }
            done += n;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        if len > MAX_SAFE_OFFSET {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("length {len} is past what a JavaScript number addresses exactly"),
            ));
        }
        self.handle()?.truncate_with_f64(len as f64).map_err(js_io)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.handle()?.flush().map_err(js_io)
    }

    fn sync_all(&self) -> io::Result<()> {
        self.handle()?.flush().map_err(js_io)
    }
}

/// Opens (creating if missing) the database `name` in the origin's private file system: the
/// container in the file `name` and its log in `name-wal`, replaying the log first, exactly as
/// [`Builder::open`] does on disk. Dedicated workers only.
///
/// ```no_run
/// # async fn demo() -> quiver::Result<()> {
/// let db = quiver::io::opfs::open_database(&quiver::Builder::new(), "notes.qvr").await?;
/// let notes = db.create_column_family("notes")?;
/// db.close()?;
/// # Ok(()) }
/// ```
pub async fn open_database(builder: &Builder, name: &str) -> Result<Database> {
    let main = OpfsFile::open(name).await?;
    if !builder.wal_enabled() {
        return builder.open_file(main);
    }
    let log_name = log_path(Path::new(name));
    let log = OpfsFile::open(&log_name.to_string_lossy()).await?;
    builder.open_with_log(main, log)
}

/// Deletes the database `name` (both files) from the origin's private file system. It must not
/// be open. Missing files are not an error.
///
/// ```no_run
/// # async fn demo() -> quiver::Result<()> {
/// quiver::io::opfs::remove_database("old.qvr").await?;
/// # Ok(()) }
/// ```
pub async fn remove_database(name: &str) -> Result<()> {
    let root = root_directory().await?;
    let log_name = log_path(Path::new(name)).to_string_lossy().into_owned();
    for file in [name, log_name.as_str()] {
        match JsFuture::from(root.remove_entry(file)).await {
            Ok(_) => {}
            Err(err) if dom_name(&err).as_deref() == Some("NotFoundError") => {}
            Err(err) => return Err(js_error(err, file)),
        }
    }
    Ok(())
}

/// The OPFS root of this worker's origin.
async fn root_directory() -> Result<FileSystemDirectoryHandle> {
    let scope: WorkerGlobalScope = js_sys::global().dyn_into().map_err(|_| {
        Error::Io(io::Error::new(
            io::ErrorKind::Unsupported,
            "OPFS storage needs a dedicated Web Worker (synchronous access handles exist only there)",
        ))
    })?;
    let storage = scope.navigator().storage();
    await_as(storage.get_directory(), "the OPFS root").await
}

/// Awaits `promise` and casts its value, mapping a rejection to our error for `name`.
async fn await_as<T: JsCast>(promise: js_sys::Promise, name: &str) -> Result<T> {
    let value = JsFuture::from(promise)
        .await
        .map_err(|err| js_error(err, name))?;
    value.dyn_into::<T>().map_err(|value| {
        Error::Io(io::Error::other(format!(
            "OPFS returned an unexpected value for {name}: {value:?}"
        )))
    })
}

/// The DOMException name of a rejection, if it is one.
fn dom_name(err: &JsValue) -> Option<String> {
    err.dyn_ref::<DomException>().map(DomException::name)
}

/// A rejection while opening `name`: the browser's exclusive-handle refusal is our
/// [`Error::AlreadyOpen`]; anything else is an I/O error carrying the browser's message.
fn js_error(err: JsValue, name: &str) -> Error {
    match dom_name(&err).as_deref() {
        Some("NoModificationAllowedError") => Error::AlreadyOpen(PathBuf::from(name)),
        _ => Error::Io(js_io(err)),
    }
}

/// A JavaScript exception as an I/O error, keeping the browser's name and message. A full
/// origin quota (`QuotaExceededError`) is reported as [`io::ErrorKind::StorageFull`].
fn js_io(err: JsValue) -> io::Error {
    match err.dyn_ref::<DomException>() {
        Some(dom) => {
            let kind = match dom.name().as_str() {
                "QuotaExceededError" => io::ErrorKind::StorageFull,
                "NotFoundError" => io::ErrorKind::NotFound,
                _ => io::ErrorKind::Other,
            };
            io::Error::new(kind, format!("{}: {}", dom.name(), dom.message()))
        }
        None => io::Error::other(format!("{err:?}")),
    }
}
