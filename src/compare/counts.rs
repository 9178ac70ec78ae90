//! How often each thing happened (a specialty transition, a code gained), most common first.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts<K: Ord> {
    counts: BTreeMap<K, usize>,
}

impl<K: Ord> Default for Counts<K> {
    fn default() -> Self {
        Counts {
            counts: BTreeMap::new(),
        }
    }
}

impl<K: Ord> Counts<K> {
    pub fn add(&mut self, key: K) {
        *self.counts.entry(key).or_insert(0) += 1;
    }

    /// Every key with its count, the most common first, ties in key order.
    pub fn most_common(&self) -> Vec<(&K, usize)> {
        let mut entries: Vec<(&K, usize)> = self.counts.iter().map(|(k, n)| (k, *n)).collect();
        entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        entries
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_common_come_first_and_ties_in_order() {
        let mut counts = Counts::default();
        for key in ["b", "a", "c", "c", "b", "c"] {
            counts.add(key);
        }
        assert_eq!(counts.most_common(), [(&"c", 3), (&"b", 2), (&"a", 1)]);
        assert!(!counts.is_empty());
        assert!(Counts::<u8>::default().most_common().is_empty());
    }
}
