//! Positional file I/O under the container.
//!
//! Everything quiver stores goes through [`FileIo`]: a file addressed by byte offset, with no
//! cursor, so any number of threads can read and write different ranges at once without a lock.
//! The real implementation is [`StdFile`] (`pread`/`pwrite` on a `std::fs::File`); tests swap in
//! the fault-injecting in-memory file from `quiver::testing` to simulate power loss, and
//! `opfs::OpfsFile` (feature `opfs`, wasm32) keeps the container in a browser's origin private
//! file system.

#[cfg(all(feature = "opfs", target_arch = "wasm32"))]
pub mod opfs;
pub(crate) mod poison;
mod std_file;

pub use std_file::StdFile;

use std::fmt::Debug;
use std::io;

/// A byte-addressed file that the container is stored in.
///
/// Implementations must be usable from many threads at once. The crash contract is the usual one
/// for disks: a write may be lost or torn until a later `sync_*` call returns; after
/// `sync_data`/`sync_all` returns, every earlier write and length change is durable.
///
/// ```
/// use quiver::io::{FileIo, StdFile};
/// # let dir = tempfile::tempdir().unwrap();
/// let file = StdFile::open(&dir.path().join("raw.bin"))?;
/// file.write_at(4096, b"hello")?;
/// let mut buf = [0u8; 5];
/// file.read_at(4096, &mut buf)?;
/// assert_eq!(&buf, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait FileIo: Debug + Send + Sync + 'static {
    /// Current length of the file in bytes.
    fn len(&self) -> io::Result<u64>;

    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Fills `buf` from `offset`. Bytes past the end of the file read as zeros.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// Writes all of `data` at `offset`, extending the file if needed.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// Sets the file length (truncating, or extending with zeros).
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// Makes earlier writes durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;

    /// Makes earlier writes and all metadata durable (`fsync`).
    fn sync_all(&self) -> io::Result<()>;

    /// Makes `len` bytes at `offset` read as zeros. The default writes zeros; implementations may
    /// use a cheaper primitive (hole punching). Not durable until the next sync.
    fn zero_range(&self, offset: u64, len: u64) -> io::Result<()> {
        write_zeros(self, offset, len)
    }

    /// Gives the file up when the database closes, before this value is dropped (a closed
    /// database stays alive until its owner drops it). Later calls may fail. The default does
    /// nothing; a file whose open handle keeps others from opening it (OPFS) closes the handle
    /// here, so that the file can be opened again at once.
    fn release(&self) {}
}

/// Writes `len` zero bytes at `offset`, a megabyte at a time.
pub(crate) fn write_zeros<F: FileIo + ?Sized>(file: &F, offset: u64, len: u64) -> io::Result<()> {
    const CHUNK: u64 = 1 << 20;
    let zeros = vec![0u8; CHUNK.min(len) as usize];
    let mut done = 0;
    while done < len {
        let n = CHUNK.min(len - done);
        file.write_at(offset + done, &zeros[..n as usize])?;
        done += n;
    }
    Ok(())
}
