//! The file store (`file:DIR`, the default): each value is a JSON file in
//! the data directory, named as it always was (`engine_state.json`,
//! `engine_state_dry_run.json`), with the rules of [`super::atomic`]:
//! atomic writes, an unreadable file moved aside to `<name>.corrupt-<n>`.
//!
//! The data directory's lock ([`crate::store::data_lock`]) keeps a second placer
//! out, so there is never a stale writer and this placer always leads
//! ([`Role::Sole`](super::Role::Sole)). A directory holds one app: with
//! several apps, each has its own (see [`store_for_app`](super::store_for_app)).

use std::fs;
use std::io;
use std::path::PathBuf;

use async_trait::async_trait;

use super::atomic::{move_aside_as, write_atomically};
use super::{Aside, Leadership, OpenedStore, Opening, StateKey, StateStore, StateUrl, StoreEntry};
use super::{StoreError, StoreSettings};

/// The registry's line for `file:` URLs.
pub const ENTRY: StoreEntry = StoreEntry::new("file", open);

fn open(settings: StoreSettings) -> Opening {
    Box::pin(async move {
        let StateUrl::File(dir) = settings.url else {
            unreachable!("the registry hands `file:` URLs only");
        };
        Ok(OpenedStore {
            store: std::sync::Arc::new(FileStore::new(dir)),
            leadership: Leadership::sole(),
        })
    })
}

/// Files written at once by every file store of the process: enough for
/// the disk to take several flushes together, few enough that the threads
/// they block stay few.
static WRITERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

/// Values as files in one directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A store in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore { dir: dir.into() }
    }

    /// The file holding `key`.
    pub fn path(&self, key: &StateKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.item.name()))
    }
}

#[async_trait]
impl StateStore for FileStore {
    fn describe(&self) -> String {
        format!("files in {}", self.dir.display())
    }

    fn location(&self, key: &StateKey) -> String {
        format!("file {}", self.path(key).display())
    }

    async fn load(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StoreError> {
        match fs::read(self.path(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(StoreError::Unreadable {
                at: self.location(key),
                problem: err.to_string(),
            }),
        }
    }

    async fn save(&self, key: &StateKey, value: &[u8]) -> Result<(), StoreError> {
        let path = self.path(key);
        // Writing and flushing to disk blocks: on the blocking pool, the
        // apps ticking at once flush their files side by side instead of
        // holding the runtime's few worker threads one flush at a time.
        let contents = value.to_vec();
        let written = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let _turn = WRITERS.acquire().await;
                runtime
                    .spawn_blocking(move || write_atomically(&path, &contents))
                    .await
                    .unwrap_or_else(|joined| Err(io::Error::other(joined.to_string())))
            }
            Err(_) => write_atomically(&path, &contents),
        };
        written.map_err(|err| StoreError::Write {
            at: self.location(key),
            problem: err.to_string(),
        })
    }

    async fn move_aside(&self, key: &StateKey, why: Aside) -> Result<String, StoreError> {
        move_aside_as(&self.path(key), why.label())
            .map(|moved| moved.display().to_string())
            .map_err(|err| StoreError::Write {
                at: self.location(key),
                problem: err.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{load_json, save_json, Restored, StateItem};

    #[tokio::test]
    async fn a_failed_write_names_the_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let key = StateKey::new("shop", StateItem::EngineState);
        // A directory where the file goes: it cannot be replaced.
        fs::create_dir_all(store.path(&key).join("in-the-way")).unwrap();
        let error = store.save(&key, b"[]").await.unwrap_err().to_string();
        let path = store.path(&key).display().to_string();
        assert_eq!(error.matches(&path).count(), 1, "{error}");
        assert!(
            error.starts_with(&format!("cannot write file {path}: ")),
            "{error}"
        );
    }

    /// An engine state with history, policy memory and a forecaster in a
    /// few regions, as a latency-policy app keeps after some ticks.
    fn a_warmed_engine_state() -> placer_core::EngineState {
        use placer_core::policy::PolicyName;
        use placer_core::{Execution, Placer, PlacerConfig, Timestamp, TrafficSnapshot};
        let config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
        let mut placer = Placer::new(config).unwrap();
        let deployed = ["iad".parse().unwrap()].into_iter().collect();
        for minute in 1..=30 {
            let at = Timestamp::from_unix_seconds(60 * minute);
            let busy = minute as f64;
            let traffic = [("iad", 80.0 + busy), ("fra", 3.5 * busy), ("syd", 1.25)];
            placer.observe(&TrafficSnapshot::new(at, traffic).unwrap());
            let plan = placer.decide(&deployed, at);
            placer.commit(plan, Execution::new(Vec::new()));
        }
        placer.state().clone()
    }

    #[tokio::test]
    async fn an_engine_state_is_saved_on_one_line_and_the_indented_files_of_before_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let key = StateKey::new("shop", StateItem::EngineState);
        let state = a_warmed_engine_state();
        save_json(&store, &key, &state).await.unwrap();
        let saved = fs::read_to_string(store.path(&key)).unwrap();
        assert_eq!(saved.lines().count(), 1, "{saved}");
        assert!(saved.ends_with("}\n"), "{saved}");
        let Restored::Loaded(loaded) = load_json::<placer_core::EngineState>(&store, &key)
            .await
            .unwrap()
        else {
            panic!("expected the saved state to load");
        };
        assert_eq!(loaded, state);

        // Earlier builds wrote the same JSON indented.
        let indented = serde_json::to_string_pretty(&state).unwrap() + "\n";
        assert!(indented.len() > saved.len() + saved.len() / 4);
        fs::write(store.path(&key), &indented).unwrap();
        let Restored::Loaded(loaded) = load_json::<placer_core::EngineState>(&store, &key)
            .await
            .unwrap()
        else {
            panic!("expected the indented state to load");
        };
        assert_eq!(loaded, state);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn apps_saving_at_once_each_find_their_own_state_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut saves = tokio::task::JoinSet::new();
        for app in 0..40 {
            let store = FileStore::new(dir.path().join(format!("app-{app}")));
            saves.spawn(async move {
                let key = StateKey::new(format!("app-{app}"), StateItem::EngineState);
                for round in 0..3 {
                    save_json(&store, &key, &vec![app, round]).await.unwrap();
                }
            });
        }
        while let Some(saved) = saves.join_next().await {
            saved.unwrap();
        }
        for app in 0..40 {
            let store = FileStore::new(dir.path().join(format!("app-{app}")));
            let key = StateKey::new(format!("app-{app}"), StateItem::EngineState);
            assert!(matches!(
                load_json::<Vec<u32>>(&store, &key).await.unwrap(),
                Restored::Loaded(v) if v == [app, 2]
            ));
            let names: Vec<_> = fs::read_dir(dir.path().join(format!("app-{app}")))
                .unwrap()
                .map(|entry| entry.unwrap().file_name())
                .collect();
            assert_eq!(names, ["engine_state.json"]);
        }
    }

    #[tokio::test]
    async fn keeps_the_file_names_of_before_and_sets_a_corrupt_file_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let live = StateKey::new("shop", StateItem::EngineState);
        let dry = StateKey::new("shop", StateItem::EngineStateDryRun);
        assert!(matches!(
            load_json::<Vec<u32>>(&store, &live).await.unwrap(),
            Restored::Missing
        ));
        save_json(&store, &live, &vec![1, 2]).await.unwrap();
        save_json(&store, &dry, &vec![3]).await.unwrap();
        assert!(dir.path().join("engine_state.json").is_file());
        assert!(dir.path().join("engine_state_dry_run.json").is_file());

        fs::write(dir.path().join("engine_state.json"), "{ broken").unwrap();
        let Restored::MovedAside { problem, moved_to } =
            load_json::<Vec<u32>>(&store, &live).await.unwrap()
        else {
            panic!("expected the file to be moved aside");
        };
        assert!(problem.contains("is not valid"), "{problem}");
        assert!(
            moved_to.ends_with("engine_state.json.corrupt-1"),
            "{moved_to}"
        );
        assert_eq!(fs::read_to_string(&moved_to).unwrap(), "{ broken");
        assert!(matches!(
            load_json::<Vec<u32>>(&store, &dry).await.unwrap(),
            Restored::Loaded(v) if v == [3]
        ));
    }
}
