//! [`PolicyMemory`]: what one policy carries from one tick to the next.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// One policy's memory, kept in the persisted engine state under the
/// policy's name as a serde value. The policy decides its own type: it
/// [loads](Self::load) it at the start of a tick and [stores](Self::store)
/// it back.
///
/// ```
/// use placer_core::policy::PolicyMemory;
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Counter {
///     ticks: u32,
/// }
///
/// let mut memory = PolicyMemory::default();
/// let mut counter: Counter = memory.load();
/// counter.ticks += 1;
/// memory.store(&counter);
/// assert_eq!(memory.load::<Counter>().ticks, 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyMemory {
    value: serde_json::Value,
}

impl PolicyMemory {
    /// The memory as the policy's type `T`. Empty memory, or memory that
    /// does not read as `T` (written by another version of the policy),
    /// gives `T::default()`: the policy starts afresh, as on its first tick.
    pub fn load<T: DeserializeOwned + Default>(&self) -> T {
        if self.value.is_null() {
            return T::default();
        }
        T::deserialize(&self.value).unwrap_or_default()
    }

    /// Replaces the memory with `memory`.
    ///
    /// # Panics
    /// When `memory` cannot be represented as a serde value (a map with
    /// keys that are not strings, say): a policy's memory type must be.
    pub fn store<T: Serialize>(&mut self, memory: &T) {
        self.value =
            serde_json::to_value(memory).expect("a policy's memory serializes to a serde value");
    }

    /// True when nothing was stored.
    pub fn is_empty(&self) -> bool {
        self.value.is_null()
    }

    /// The memory as it is persisted.
    pub fn as_value(&self) -> &serde_json::Value {
        &self.value
    }

    pub(crate) fn from_value(value: serde_json::Value) -> Self {
        PolicyMemory { value }
    }

    pub(crate) fn into_value(self) -> serde_json::Value {
        self.value
    }
}
