//! The [`redb::StorageBackend`] each column family's redb database runs on.
//!
//! It translates redb's flat offsets through the column family's segment map and does positional
//! I/O on the shared container file. The rules it keeps (each one a bug an earlier
//! implementation had):
//!
//! - `len()` is exactly the last `set_len`; a new column family reports 0.
//! - `set_len` only records the length; space is allocated when a write first reaches it, and the
//!   new segment is durable in the catalog before the write lands. Space redb has not written
//!   stays a hole, however far past it a write lands.
//! - Ranges never written read as zeros, including space exposed again after a shrink.
//! - The byte-range lock methods are left at redb's default (unsupported): every redb instance
//!   would lock the same offsets. The container file is locked once instead.
//! - After the column family is deleted, writes and syncs fail; reads of live transactions keep
//!   working because the space stays reserved until the last handle is gone.

use crate::cf::container::{CfState, CfStatus, Container};
use crate::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Storage of one column family, seen by redb.
pub(crate) struct CfBackend {
    pub cf: Arc<CfState>,
    pub container: Arc<Container>,
}

impl fmt::Debug for CfBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CfBackend")
            .field("column_family", &self.cf.name)
            .finish()
    }
}

fn to_io(err: Error) -> io::Error {
    match err {
        Error::Io(err) => err,
        other => io::Error::other(other),
    }
}

fn out_of_range(offset: u64, len: usize, storage_len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("range {offset}+{len} is past the end of the storage ({storage_len} bytes)"),
    )
}

impl CfBackend {
    fn check_writable(&self) -> io::Result<()> {
        self.container.check_poison().map_err(to_io)?;
        if self.cf.status() == CfStatus::Deleted {
            return Err(to_io(Error::ColumnFamilyNotFound(self.cf.name.clone())));
        }
        Ok(())
    }
}

impl redb::StorageBackend for CfBackend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.cf.layout.read().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let layout = self.cf.layout.read();
        if offset
            .checked_add(out.len() as u64)
            .is_none_or(|end| end > layout.len)
        {
            return Err(out_of_range(offset, out.len(), layout.len));
        }
        for piece in layout.map.pieces(offset, out.len()) {
            match piece.physical {
                Some(physical) => self.container.file.read_at(physical, &mut out[piece.buf])?,
                None => out[piece.buf].fill(0),
            }
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check_writable()?;
        self.container.set_len(&self.cf, len).map_err(to_io)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.check_writable()?;
        self.container.sync(&self.cf).map_err(to_io)
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check_writable()?;
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| out_of_range(offset, data.len(), u64::MAX))?;
        loop {
            {
                let layout = self.cf.layout.read();
                if end > layout.len {
                    return Err(out_of_range(offset, data.len(), layout.len));
                }
                let pieces = layout.map.pieces(offset, data.len());
                if pieces.iter().all(|piece| piece.physical.is_some()) {
                    for piece in pieces {
                        if let Some(physical) = piece.physical {
                            self.container
                                .file
                                .write_at(physical, &data[piece.buf])
                                .inspect_err(|err| {
                                    // A lost page write leaves redb's state on disk unknown.
                                    self.container.poison(format!("writing: {err}"));
                                })?;
                        }
                    }
                    self.cf.high_water.fetch_max(end, Ordering::AcqRel);
                    return Ok(());
                }
            }
            self.container.grow(&self.cf, offset, end).map_err(to_io)?;
        }
    }
}
