//! When a save is over. Editors write a file in several events: in place
//! (truncate, write, close), or a new file renamed over the old one, often
//! after moving the old one away and followed by a change of permissions.
//! A save is handled as soon as every file it wrote was closed after
//! writing or renamed into place, without waiting for the events to stop.
//! Linux's watcher (inotify) reports both; there a file being written is
//! never read before it is closed (or has had no event for
//! [`WRITE_LIMIT`]: a writer that keeps it open). Other changes (a deleted
//! module, permissions), and writes where the watcher does not report
//! closes, are handled once their events have been quiet for [`SETTLE`].
//! Events that trail a handled save, of files that still read as they did
//! then, are that save's and are dropped; any other content makes a new
//! change, so no edit is lost.

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the events of a change that no close ends must be quiet.
pub const SETTLE: Duration = Duration::from_millis(20);

/// Whether the platform's watcher reports that a file written was closed.
const WRITES_END_WITH_A_CLOSE: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// How long a file written but not closed must be quiet to be read anyway.
const WRITE_LIMIT: Duration = Duration::from_secs(1);

/// How long after a handled save its trailing events may still arrive.
const TAIL: Duration = Duration::from_millis(50);

/// What a save asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Scripts,
    /// The firmware's Rust changed: only a new image can hold it.
    Firmware,
}

/// Gathers file events into saves.
pub struct Saves {
    scripts_dir: PathBuf,
    burst: Option<Burst>,
    handled: Option<Handled>,
}

/// The events of a save not handled yet.
struct Burst {
    change: Change,
    /// Every file it touched.
    files: BTreeSet<PathBuf>,
    /// Those written and not closed (or renamed into place) since.
    writing: BTreeSet<PathBuf>,
    /// Those changed otherwise since (moved away, deleted, their mode set),
    /// or written where closes are not reported.
    unfinished: BTreeSet<PathBuf>,
    first: Instant,
    last: Instant,
}

/// The last save handled: when it was over, and its files' contents then.
struct Handled {
    at: Instant,
    contents: BTreeMap<PathBuf, Option<u64>>,
}

impl Saves {
    pub fn new(scripts_dir: &Path) -> Saves {
        Saves {
            scripts_dir: scripts_dir.to_path_buf(),
            burst: None,
            handled: None,
        }
    }

    /// Takes one event of the file watcher in, received at `now`.
    pub fn add(&mut self, event: notify::Result<Event>, now: Instant) {
        let Ok(event) = event else { return };
        let (finishes, writes) = match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => (true, false),
            EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => (true, false),
            EventKind::Access(_) | EventKind::Other => return,
            EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
                (false, WRITES_END_WITH_A_CLOSE)
            }
            _ => (false, false),
        };
        // A rename's source (the first of `Both`'s paths) is gone, not
        // unfinished.
        let target = event.paths.last().cloned();
        for path in event.paths {
            let Some(change) = self.change_of(&path) else {
                continue;
            };
            let burst = self.burst.get_or_insert_with(|| Burst {
                change,
                files: BTreeSet::new(),
                writing: BTreeSet::new(),
                unfinished: BTreeSet::new(),
                first: now,
                last: now,
            });
            if change == Change::Firmware {
                burst.change = Change::Firmware;
            }
            burst.last = now;
            if finishes && Some(&path) == target.as_ref() {
                burst.writing.remove(&path);
                burst.unfinished.remove(&path);
            } else if writes {
                burst.writing.insert(path.clone());
            } else {
                burst.unfinished.insert(path.clone());
            }
            burst.files.insert(path);
        }
    }

    /// How long until the pending save is over if nothing else happens;
    /// `None` without one.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        let burst = self.burst.as_ref()?;
        let quiet_for = if !burst.writing.is_empty() {
            WRITE_LIMIT
        } else if !burst.unfinished.is_empty() {
            SETTLE
        } else {
            Duration::ZERO
        };
        Some(quiet_for.saturating_sub(now.duration_since(burst.last)))
    }

    /// The change of a save that is over, and when its first event came;
    /// the caller handles it and then says [`Saves::handled`].
    pub fn take(&mut self, now: Instant) -> Option<(Change, Instant)> {
        if self.wait(now)? > Duration::ZERO {
            return None;
        }
        let burst = self.burst.take()?;
        let contents: BTreeMap<PathBuf, Option<u64>> = burst
            .files
            .iter()
            .map(|path| (path.clone(), content_hash(path)))
            .collect();
        let trails_last = self.handled.as_ref().is_some_and(|handled| {
            burst.first <= handled.at + TAIL
                && contents
                    .iter()
                    .all(|(path, hash)| handled.contents.get(path) == Some(hash))
        });
        if trails_last {
            return None;
        }
        self.handled = Some(Handled { at: now, contents });
        Some((burst.change, burst.first))
    }

    /// The save last taken has been handled (at `now`): events that
    /// trail it come from now on.
    pub fn handled(&mut self, now: Instant) {
        if let Some(handled) = &mut self.handled {
            handled.at = now;
        }
    }

    fn change_of(&self, path: &Path) -> Option<Change> {
        if is_script(path) && path.starts_with(&self.scripts_dir) {
            Some(Change::Scripts)
        } else if path.extension().is_some_and(|e| e == "rs") {
            Some(Change::Firmware)
        } else {
            None
        }
    }
}

fn is_script(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "bs" || e == "ts")
        && !path.to_string_lossy().ends_with(".d.ts")
}

/// A file's content, hashed; `None` when it cannot be read (deleted).
fn content_hash(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut hasher = DefaultHasher::new();
    hasher.write(&bytes);
    Some(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind};

    struct Editor {
        _dir: tempfile::TempDir,
        scripts: PathBuf,
        saves: Saves,
        now: Instant,
    }

    impl Editor {
        fn new() -> Editor {
            let dir = tempfile::tempdir().unwrap();
            let scripts = dir.path().join("scripts");
            std::fs::create_dir(&scripts).unwrap();
            Editor {
                saves: Saves::new(&scripts),
                scripts,
                _dir: dir,
                now: Instant::now(),
            }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.scripts.join(name)
        }

        fn event(&mut self, kind: EventKind, names: &[&str]) {
            let mut event = Event::new(kind);
            for name in names {
                event = event.add_path(self.path(name));
            }
            self.saves.add(Ok(event), self.now);
        }

        fn later(&mut self, time: Duration) {
            self.now += time;
        }

        /// What is handled now, and when its save began.
        fn take(&mut self) -> Option<Change> {
            let taken = self.saves.take(self.now).map(|(change, _)| change);
            if taken.is_some() {
                self.saves.handled(self.now);
            }
            taken
        }
    }

    const MODIFY: EventKind = EventKind::Modify(ModifyKind::Data(DataChange::Any));
    const CLOSE_WRITE: EventKind = EventKind::Access(AccessKind::Close(AccessMode::Write));
    const CREATE: EventKind = EventKind::Create(CreateKind::File);
    const ATTRIB: EventKind = EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any));
    const MOVED_FROM: EventKind = EventKind::Modify(ModifyKind::Name(RenameMode::From));
    const MOVED_TO: EventKind = EventKind::Modify(ModifyKind::Name(RenameMode::To));
    const RENAMED: EventKind = EventKind::Modify(ModifyKind::Name(RenameMode::Both));

    #[test]
    fn a_file_written_in_place_is_handled_once_it_is_closed() {
        let mut editor = Editor::new();
        std::fs::write(editor.path("main.bs"), "print(1)\n").unwrap();
        editor.event(MODIFY, &["main.bs"]);
        editor.event(MODIFY, &["main.bs"]);
        assert_eq!(editor.take(), None, "still being written");
        editor.event(CLOSE_WRITE, &["main.bs"]);
        assert_eq!(editor.saves.wait(editor.now), Some(Duration::ZERO));
        assert_eq!(editor.take(), Some(Change::Scripts));
        assert_eq!(editor.take(), None);
    }

    /// vim: the old file moved away, a new one written, its mode set.
    #[test]
    fn a_file_moved_away_and_written_anew_is_handled_once_and_whole() {
        let mut editor = Editor::new();
        std::fs::write(editor.path("main.bs"), "print(1)\n").unwrap();
        editor.event(MOVED_FROM, &["main.bs"]);
        editor.event(MOVED_TO, &["main.bs~"]);
        editor.event(RENAMED, &["main.bs", "main.bs~"]);
        editor.event(CREATE, &["main.bs"]);
        assert_eq!(editor.take(), None, "the new file is not written yet");
        editor.event(MODIFY, &["main.bs"]);
        editor.event(CLOSE_WRITE, &["main.bs"]);
        assert_eq!(editor.take(), Some(Change::Scripts));
        // The mode set after: the same save, the same content.
        editor.later(Duration::from_millis(2));
        editor.event(ATTRIB, &["main.bs"]);
        editor.later(SETTLE);
        assert_eq!(editor.take(), None);
    }

    /// JetBrains, Kate: a new file renamed over the script.
    #[test]
    fn a_file_renamed_into_place_is_handled_at_once() {
        let mut editor = Editor::new();
        std::fs::write(editor.path("main.bs"), "print(2)\n").unwrap();
        editor.event(CREATE, &["main.bs.tmp"]);
        editor.event(CLOSE_WRITE, &["main.bs.tmp"]);
        assert_eq!(editor.saves.wait(editor.now), None, "not a script");
        editor.event(MOVED_FROM, &["main.bs"]);
        editor.event(MOVED_TO, &["main.bs"]);
        editor.event(RENAMED, &["main.bs.tmp", "main.bs"]);
        assert_eq!(editor.take(), Some(Change::Scripts));
    }

    #[test]
    fn a_deleted_module_is_handled_once_its_events_are_quiet() {
        let mut editor = Editor::new();
        editor.event(REMOVE, &["lib.bs"]);
        editor.later(SETTLE / 2);
        assert_eq!(editor.take(), None);
        editor.event(ATTRIB, &["main.bs"]);
        editor.later(SETTLE / 2);
        assert_eq!(editor.take(), None, "quiet for less than SETTLE");
        editor.later(SETTLE / 2);
        assert_eq!(editor.take(), Some(Change::Scripts));
    }

    /// A large file, written slowly: not read half-written.
    #[test]
    fn a_file_written_is_not_read_before_it_is_closed() {
        let mut editor = Editor::new();
        editor.event(MODIFY, &["main.bs"]);
        let (quiet, closes) = if WRITES_END_WITH_A_CLOSE {
            (WRITE_LIMIT, true)
        } else {
            (SETTLE, false)
        };
        editor.later(quiet - Duration::from_millis(1));
        assert_eq!(editor.take(), None);
        if closes {
            editor.event(MODIFY, &["main.bs"]);
            editor.event(CLOSE_WRITE, &["main.bs"]);
        } else {
            editor.later(Duration::from_millis(1));
        }
        assert_eq!(editor.take(), Some(Change::Scripts));
        // A writer that never closes it: read once it is quiet for long.
        editor.later(Duration::from_secs(1));
        editor.event(MODIFY, &["main.bs"]);
        editor.later(quiet);
        assert_eq!(editor.take(), Some(Change::Scripts));
    }

    #[test]
    fn a_second_save_right_after_the_first_is_not_lost() {
        let mut editor = Editor::new();
        std::fs::write(editor.path("main.bs"), "print(1)\n").unwrap();
        editor.event(CLOSE_WRITE, &["main.bs"]);
        assert_eq!(editor.take(), Some(Change::Scripts));
        std::fs::write(editor.path("main.bs"), "print(2)\n").unwrap();
        editor.later(Duration::from_millis(1));
        editor.event(MODIFY, &["main.bs"]);
        editor.event(CLOSE_WRITE, &["main.bs"]);
        assert_eq!(editor.take(), Some(Change::Scripts));
        // The same content saved again later: saved on purpose.
        editor.later(Duration::from_secs(1));
        editor.event(CLOSE_WRITE, &["main.bs"]);
        assert_eq!(editor.take(), Some(Change::Scripts));
    }

    #[test]
    fn rust_in_a_save_asks_for_a_new_image_and_other_files_for_nothing() {
        let mut editor = Editor::new();
        editor.event(CLOSE_WRITE, &["notes.txt", "types.d.ts"]);
        assert_eq!(editor.saves.wait(editor.now), None);
        editor.event(CLOSE_WRITE, &["main.bs"]);
        let driver = editor._dir.path().join("src/led.rs");
        editor
            .saves
            .add(Ok(Event::new(CLOSE_WRITE).add_path(driver)), editor.now);
        assert_eq!(editor.take(), Some(Change::Firmware));
    }

    const REMOVE: EventKind = EventKind::Remove(RemoveKind::File);
}
