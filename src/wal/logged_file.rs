//! [`FileIo`] for the main file with the log underneath: writes go through to the main file and
//! are appended to the log; a sync waits for the log (group commit), never for the main file.

use crate::io::FileIo;
use crate::wal::format::Change;
use crate::wal::writer::Log;
use std::io;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct LoggedFile {
    pub main: Arc<dyn FileIo>,
    pub log: Arc<Log>,
}

fn to_io(err: crate::Error) -> io::Error {
    match err {
        crate::Error::Io(err) => err,
        other => io::Error::other(other),
    }
}

impl FileIo for LoggedFile {
    fn len(&self) -> io::Result<u64> {
        self.main.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.main.read_at(offset, buf)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        // Write through first: a checkpoint that switches halves after this record is appended
        // must find the bytes already in the main file.
        self.main
            .write_at(offset, data)
            .inspect_err(|err| self.log.poison_for(format!("writing the main file: {err}")))?;
        self.log
            .append(Change::Write { offset, data })
            .map_err(to_io)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.main.set_len(len).inspect_err(|err| {
            self.log
                .poison_for(format!("resizing the main file: {err}"))
        })?;
        self.log.append(Change::SetLen { len }).map_err(to_io)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.log.sync().map_err(to_io)
    }

    fn sync_all(&self) -> io::Result<()> {
        self.log.sync().map_err(to_io)
    }

    fn release(&self) {
        self.main.release();
    }

    fn zero_range(&self, offset: u64, len: u64) -> io::Result<()> {
        self.main
            .zero_range(offset, len)
            .inspect_err(|err| self.log.poison_for(format!("zeroing the main file: {err}")))?;
        self.log.append(Change::Zero { offset, len }).map_err(to_io)
    }
}
