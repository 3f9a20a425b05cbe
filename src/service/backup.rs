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
    #[error("{path} fails SQLite's integrity check: {problems}")]
    Damaged { path: PathBuf, problems: String },
    #[error(
        "there is no database at {0}: run it with the service's settings (DATABASE_URL, \
         or from the service's folder; painline-admin does both)"
    )]
    NoDatabase(PathBuf),
    #[error("{0} is not a Painline database")]
    NotPainline(PathBuf),
    #[error(
        "the database is PostgreSQL: restore it with pg_restore, then run \
         painline after-restore"
    )]
    RestorePostgres,
    #[error("cannot restore into {path}: {source}")]
    Restore {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A database restored from a copy.
#[derive(Debug)]
pub struct Restored {
    pub path: PathBuf,
    pub bytes: u64,
}

fn utf8(path: &Path) -> Result<String, BackupError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| BackupError::NotUtf8(path.to_owned()))
}

/// Checks that `path` is a sound Painline database: it exists, it has the
/// service's migrations table, and SQLite's integrity check passes.
fn check_source(path: &Path) -> Result<(), BackupError> {
    if !path.is_file() {
        return Err(BackupError::NoDatabase(path.to_owned()));
    }
    let name = utf8(path)?;
    if !db::backup::is_painline_database(&name).map_err(BackupError::Copy)? {
        return Err(BackupError::NotPainline(path.to_owned()));
    }
    let problems = db::backup::integrity_check(&name).map_err(BackupError::Copy)?;
    if problems != ["ok"] {
        return Err(BackupError::Damaged {
            path: path.to_owned(),
            problems: problems.join("; "),
        });
    }
    Ok(())
}

/// Puts the copy at `source` in place of the SQLite database at `target`,
/// with the service stopped: checks the copy, writes it beside the target
/// (mode 0600), gives it a new generation (so phones that synced since any
/// earlier restore of the same copy sync again from the start), removes
/// the old database's `-wal` and `-shm` (they would be replayed onto it),
/// and renames it into place, so the target is never half-written.
pub fn restore(source: &Path, target: &Path) -> Result<Restored, BackupError> {
    check_source(source)?;
    let failed = |source: std::io::Error| BackupError::Restore {
        path: target.to_owned(),
        source,
    };
    let mut staged_name = target.as_os_str().to_owned();
    staged_name.push(".restoring");
    let staged = PathBuf::from(staged_name);
    // A leftover of a restore that was interrupted.
    match std::fs::remove_file(&staged) {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(failed(e)),
        _ => {}
    }
    let mut from = std::fs::File::open(source).map_err(failed)?;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staged)
        .map_err(failed)?;
    let bytes = std::io::copy(&mut from, &mut to).map_err(failed)?;
    to.sync_all().map_err(failed)?;
    drop(to);
    let placed = (|| {
        db::backup::renew_generation_of_copy(&utf8(&staged)?).map_err(BackupError::Copy)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = target.as_os_str().to_owned();
            side.push(suffix);
            match std::fs::remove_file(PathBuf::from(side)) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(failed(e)),
                _ => {}
            }
        }
        std::fs::rename(&staged, target).map_err(failed)?;
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(failed)?;
        }
        Ok(())
    })();
    if placed.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    placed.map(|()| Restored {
        path: target.to_owned(),
        bytes,
    })
}

/// Writes the database into a new file at `path` (mode 0600: it holds
/// health data and password hashes), then checks the copy with SQLite's
/// integrity check. Refuses an existing file; removes its own file when
/// anything fails.
pub async fn sqlite_copy(db: &Db, path: &Path) -> Result<Backup, BackupError> {
    if db.is_postgres() {
        return Err(BackupError::Postgres);
    }
    let target = utf8(path)?;
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
