//! Sorting the short lists boardnet sorts (a link's addresses, a DNS answer's records, the
//! cookies for one request, scan results): a stable insertion sort.
//!
//! Why not `slice::sort_by_key`: std's stable sort is about 3.5 KiB of code for every element
//! type it is used with, and these lists are a handful of entries (bounded by what produced
//! them: an answer, a scan, a cookie jar's per-host limit). An insertion sort is a few hundred
//! bytes per type, stable, and quadratic only in a length that stays small.

use std::cmp::Ordering;

/// Sort `items` by `compare`, keeping equal items in their order.
pub(crate) fn sort_small_by<T>(items: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && compare(&items[j], &items[j - 1]) == Ordering::Less {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Sort `items` by the key `key` gives, keeping items with equal keys in their order.
pub(crate) fn sort_small_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_small_by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sort `items` by their own order.
pub(crate) fn sort_small<T: Ord>(items: &mut [T]) {
    sort_small_by(items, T::cmp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_keeps_equal_keys_in_order() {
        let mut items = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e'), (0, 'f')];
        sort_small_by_key(&mut items, |i| i.0);
        assert_eq!(
            items,
            [(0, 'f'), (1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]
        );
        let mut numbers: Vec<u32> = (0..200).map(|i| (i * 7919) % 211).collect();
        let mut expected = numbers.clone();
        expected.sort_unstable();
        sort_small(&mut numbers);
        assert_eq!(numbers, expected);
        let mut empty: Vec<u8> = Vec::new();
        sort_small(&mut empty);
        assert!(empty.is_empty());
    }
}
