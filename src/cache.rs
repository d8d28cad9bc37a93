//! Remembers what each XR composed to, so a steady reconcile does not compose it again.
//!
//! Crossplane calls the function for every XR on every reconcile: when the poll interval
//! passes and whenever a composed resource changes (a Deployment scaling, KEDA reporting).
//! The spec, the Input and the XR's name rarely change between those calls; the observed
//! state does. Composing is a pure function of the first three, so the server keeps, per XR,
//! those inputs and the four resources they produced, and reuses the resources when all three
//! are equal. Readiness, status, conditions and events are always computed from the request.
//!
//! An entry is reused only on exact equality of everything composing reads (the `spec` value,
//! the whole Input, the placement read from the metadata), so a hit answers exactly what
//! composing would. The cache holds at most `capacity` XRs. When it is full, a new XR
//! replaces the entry used longest ago only if that entry has not been used for
//! [`STALE_AFTER`] (its XR was most likely deleted); otherwise the new XR is composed without
//! being remembered. Active XRs therefore keep their entries even when a platform has more XRs
//! than the cache holds, instead of evicting each other in turn.

use crate::{placement::Placement, settings::Settings};
use prost_types::{Struct, Value as PbValue};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

/// An entry not used for this long may make room for a new XR. Crossplane reconciles every XR
/// at least once per poll interval (one minute by default).
pub const STALE_AFTER: Duration = Duration::from_secs(10 * 60);

/// XRs remembered by default. An entry of the full example claim holds about 90 KiB (four
/// resources as protobuf `Struct` trees), so a full default cache costs about 23 MiB.
pub const DEFAULT_CAPACITY: usize = 256;

/// The composed resources of one XR, with everything they were composed from.
#[derive(Debug)]
pub struct Composed {
    /// The XR's `spec` as it arrived.
    pub spec: PbValue,
    /// The function Input as it arrived.
    pub input: Option<Struct>,
    /// Where the resources go.
    pub placement: Placement,
    /// The Input read into settings.
    pub settings: Settings,
    /// The four resources by key.
    pub resources: Vec<(&'static str, Struct)>,
}

impl Composed {
    /// Whether these resources were composed from exactly these inputs.
    pub fn matches(&self, spec: &PbValue, input: Option<&Struct>, placement: &Placement) -> bool {
        self.placement == *placement && self.input.as_ref() == input && self.spec == *spec
    }
}

#[derive(Debug)]
struct Entry {
    composed: Arc<Composed>,
    /// Milliseconds since the cache was created, at the last use.
    last_used: AtomicU64,
}

/// Composed resources per XR, shared by every call the server handles.
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    stale_after: Duration,
    started: Instant,
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl Cache {
    /// A cache of at most `capacity` XRs; 0 remembers nothing.
    pub fn new(capacity: usize) -> Self {
        Self::with_stale_after(capacity, STALE_AFTER)
    }

    /// [`Cache::new`] with another idle time after which an entry may be replaced.
    pub fn with_stale_after(capacity: usize, stale_after: Duration) -> Self {
        Self {
            capacity,
            stale_after,
            started: Instant::now(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this cache remembers anything at all (its capacity is above 0).
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// How many XRs are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the XR at `placement` composed to last time, if it was composed from exactly these
    /// inputs.
    pub fn get(
        &self,
        spec: &PbValue,
        input: Option<&Struct>,
        placement: &Placement,
    ) -> Option<Arc<Composed>> {
        let composed = {
            let entries = self.lock();
            let entry = entries.get(&key(placement))?;
            entry.last_used.store(self.now(), Ordering::Relaxed);
            Arc::clone(&entry.composed)
        };
        // Compared outside the lock: a spec is compared field by field.
        composed.matches(spec, input, placement).then_some(composed)
    }

    /// Remembers what an XR composed to, replacing its earlier entry.
    pub fn insert(&self, composed: Composed) {
        if self.capacity == 0 {
            return;
        }
        let key = key(&composed.placement);
        let now = self.now();
        let entry = Entry {
            composed: Arc::new(composed),
            last_used: AtomicU64::new(now),
        };
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            // Nothing is stale before the server has run for the idle time.
            let stale_before = now.checked_sub(millis(self.stale_after));
            let oldest = entries
                .iter()
                .map(|(k, e)| (e.last_used.load(Ordering::Relaxed), k))
                .min()
                .filter(|(used, _)| stale_before.is_some_and(|before| *used <= before))
                .map(|(_, k)| k.clone());
            match oldest {
                Some(oldest) => {
                    entries.remove(&oldest);
                }
                // Every entry is in use: the newcomer is composed on each call instead.
                None => return,
            }
        }
        entries.insert(key, entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        // A panic while holding the lock leaves the map consistent (every change is one call).
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        millis(self.started.elapsed())
    }
}

fn key(placement: &Placement) -> (String, String) {
    (placement.namespace.clone(), placement.name.clone())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{convert::json_to_value, placement::Scope};
    use serde_json::json;

    fn placement(name: &str) -> Placement {
        Placement {
            name: name.into(),
            namespace: "workers".into(),
            scope: Scope::Claim,
        }
    }

    fn composed(name: &str, image: &str) -> Composed {
        Composed {
            spec: json_to_value(&json!({"image": image})),
            input: None,
            placement: placement(name),
            settings: Settings::default(),
            resources: Vec::new(),
        }
    }

    #[test]
    fn reuses_only_on_equal_inputs() {
        let cache = Cache::new(8);
        cache.insert(composed("a", "app:v1"));
        let spec = json_to_value(&json!({"image": "app:v1"}));
        assert!(cache.get(&spec, None, &placement("a")).is_some());
        let other_spec = json_to_value(&json!({"image": "app:v2"}));
        assert!(cache.get(&other_spec, None, &placement("a")).is_none());
        let input = Struct::default();
        assert!(cache.get(&spec, Some(&input), &placement("a")).is_none());
        assert!(cache.get(&spec, None, &placement("b")).is_none());
        let namespaced = Placement {
            scope: Scope::Namespaced,
            ..placement("a")
        };
        assert!(cache.get(&spec, None, &namespaced).is_none());
        // A changed spec replaces the XR's entry rather than adding one.
        cache.insert(composed("a", "app:v2"));
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&other_spec, None, &placement("a")).is_some());
    }

    #[test]
    fn a_full_cache_keeps_entries_in_use() {
        let cache = Cache::new(2);
        cache.insert(composed("a", "app:v1"));
        cache.insert(composed("b", "app:v1"));
        cache.insert(composed("c", "app:v1"));
        let spec = json_to_value(&json!({"image": "app:v1"}));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&spec, None, &placement("a")).is_some());
        assert!(cache.get(&spec, None, &placement("c")).is_none());
    }

    #[test]
    fn a_full_cache_replaces_the_entry_idle_longest_once_stale() {
        let cache = Cache::with_stale_after(2, Duration::ZERO);
        cache.insert(composed("a", "app:v1"));
        std::thread::sleep(Duration::from_millis(3));
        cache.insert(composed("b", "app:v1"));
        std::thread::sleep(Duration::from_millis(3));
        cache.insert(composed("c", "app:v1"));
        let spec = json_to_value(&json!({"image": "app:v1"}));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&spec, None, &placement("a")).is_none());
        assert!(cache.get(&spec, None, &placement("b")).is_some());
        assert!(cache.get(&spec, None, &placement("c")).is_some());
    }

    #[test]
    fn capacity_zero_remembers_nothing() {
        let cache = Cache::new(0);
        cache.insert(composed("a", "app:v1"));
        assert!(cache.is_empty());
    }
}
