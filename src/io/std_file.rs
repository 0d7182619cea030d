//! [`FileIo`] over a real file with positional reads and writes.

use super::FileIo;
use std::fs::{File, OpenOptions};
use std::io;
#[cfg(unix)]
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A real file accessed with `pread`/`pwrite`, so concurrent callers never share a cursor or a
/// lock.
///
/// Positional I/O needs a Unix target. Elsewhere (for example `wasm32-unknown-unknown`, where
/// `std::fs` itself is unsupported) every call returns an [`io::ErrorKind::Unsupported`] error
/// instead of panicking; such platforms bring their own [`FileIo`].
///
/// ```
/// use quiver::io::{FileIo, StdFile};
/// # let dir = tempfile::tempdir().unwrap();
/// let file = StdFile::open(&dir.path().join("data.bin"))?;
/// assert_eq!(file.len()?, 0);
/// file.set_len(8192)?;
/// assert_eq!(file.len()?, 8192);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct StdFile {
    file: File,
}

impl StdFile {
    /// Opens (creating if missing) a file for reading and writing.
    pub fn open(path: &Path) -> io::Result<StdFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(StdFile { file })
    }

    /// Wraps an already open file.
    pub fn from_file(file: File) -> StdFile {
        StdFile { file }
    }

    /// The underlying file (for locking).
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl FileIo for StdFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match read_at(&self.file, &mut buf[done..], offset + done as u64) {
                Ok(0) => {
                    // Past the end of the file: the contract says such bytes read as zeros.
                    buf[done..].fill(0);
                    return Ok(());
                }
                Ok(n) => done += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        write_all_at(&self.file, data, offset)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
    }

    #[cfg(target_os = "linux")]
    fn zero_range(&self, offset: u64, len: u64) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        if len == 0 {
            return Ok(());
        }
        let (Ok(off), Ok(n)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "range does not fit off_t",
            ));
        };
        // SAFETY: fallocate only reads its integer arguments; the descriptor is owned by
        // `self.file` and stays open for the duration of the call.
        let rc = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                off,
                n,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            // File systems without hole punching: fall back to writing zeros.
            Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => super::write_zeros(self, offset, len),
            _ => Err(err),
        }
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    file.read_at(buf, offset)
}

#[cfg(unix)]
fn write_all_at(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
    file.write_all_at(data, offset)
}

#[cfg(not(unix))]
fn read_at(_file: &File, _buf: &mut [u8], _offset: u64) -> io::Result<usize> {
    Err(unsupported())
}

#[cfg(not(unix))]
fn write_all_at(_file: &File, _data: &[u8], _offset: u64) -> io::Result<()> {
    Err(unsupported())
}

#[cfg(not(unix))]
fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "positional file I/O is only implemented for Unix targets",
    )
}
