//! `painline backup PATH`: a copy of the SQLite database, consistent and
//! complete up to the moment it began, taken while the service runs.

use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::db::{self, Db, DbError};

/// A backup written and checked.
#[derive(Debug)]
pub struct Backup {
    pub path: PathBuf,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "the database is PostgreSQL: back it up with its own tool, \
         pg_dump -Fc -f painline.dump \"$DATABASE_URL\", and restore with pg_restore"
    )]
    Postgres,
    #[error("{0} exists already: a backup never overwrites a file; choose a new name")]
    Exists(PathBuf),
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a UTF-8 path, which SQLite needs")]
    NotUtf8(PathBuf),
    #[error("the copy failed: {0}")]
    Copy(#[source] DbError),
    #[error("the copy at {path} fails SQLite's integrity check: {problems}")]
    Damaged { path: PathBuf, problems: String },
}

/// Writes the database into a new file at `path` (mode 0600: it holds
/// health data and password hashes), then checks the copy with SQLite's
/// integrity check. Refuses an existing file; removes its own file when
/// anything fails.
pub async fn sqlite_copy(db: &Db, path: &Path) -> Result<Backup, BackupError> {
    if db.is_postgres() {
        return Err(BackupError::Postgres);
    }
    let target = path
        .to_str()
        .ok_or_else(|| BackupError::NotUtf8(path.to_owned()))?
        .to_owned();
    // Created here, empty and private, so that no other file can be
    // overwritten (create_new is atomic) and the copy is never readable
    // by others, even for a moment. VACUUM INTO accepts an empty file.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| match source.kind() {
            ErrorKind::AlreadyExists => BackupError::Exists(path.to_owned()),
            _ => BackupError::Create {
                path: path.to_owned(),
                source,
            },
        })?;
    let written = copy_and_check(db, target).await;
    match written {
        Ok(()) => {
            let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            Ok(Backup {
                path: path.to_owned(),
                bytes,
            })
        }
        Err(e) => {
            // Best effort: a half-written copy must not pass for a backup.
            let _ = std::fs::remove_file(path);
            Err(e)
        }
    }
}

async fn copy_and_check(db: &Db, target: String) -> Result<(), BackupError> {
    let into = target.clone();
    db.run(move |conn| db::backup::copy_into(conn, &into))
        .await
        .map_err(BackupError::Copy)?;
    let checked = target.clone();
    let problems = tokio::task::spawn_blocking(move || {
        db::backup::renew_generation_of_copy(&checked)?;
        db::backup::integrity_check(&checked)
    })
    .await
    .map_err(|e| BackupError::Copy(DbError::from(e)))?
    .map_err(BackupError::Copy)?;
    if problems != ["ok"] {
        return Err(BackupError::Damaged {
            path: PathBuf::from(target),
            problems: problems.join("; "),
        });
    }
    Ok(())
}
