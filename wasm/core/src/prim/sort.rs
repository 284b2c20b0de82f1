//! Small sorts for the lists the core orders: canonical XML attributes and namespace
//! declarations, the blocks a signature adds or removes, and issues (errors before warnings).
//!
//! The standard library's `sort_by` (driftsort) and `sort_unstable_by` (ipnsort) are built for
//! speed on large inputs: together ≈ 20 KiB of the signing WebAssembly module for the five uses
//! here, for lists that usually hold a few elements. Each function below gives exactly the order
//! the standard sort it replaces gave: [`sort_distinct_by`] is for keys that are all different
//! (then every correct sort agrees; up to 32 elements it is stable, as std's was there),
//! [`sort_few_by_key`] and [`partition_stable`] are stable.
//! None is quadratic on a hostile document's input: [`sort_distinct_by`] is a heapsort, and
//! [`sort_few_by_key`] only sorts lists the core builds itself (at most four signature edits).

/// Sorts a list in which no two elements are equal under `is_less` (canonical attributes are
/// unique by namespace and local name in a namespace-well-formed document, namespace
/// declarations by prefix, element spans by start). Up to 32 elements an insertion sort, which
/// keeps equal elements in document order as `sort_unstable_by` did at those lengths (it
/// insertion-sorts short slices too); above, a heapsort: O(n log n) in the worst case, no
/// allocation, not stable.
pub(crate) fn sort_distinct_by<T>(items: &mut [T], mut is_less: impl FnMut(&T, &T) -> bool) {
    let n = items.len();
    if n <= 32 {
        for i in 1..n {
            let mut j = i;
            while j > 0 && is_less(&items[j], &items[j - 1]) {
                items.swap(j, j - 1);
                j -= 1;
            }
        }
        return;
    }
    heapsort(n, &mut |a, b, swap| {
        if swap {
            items.swap(a, b);
            false
        } else {
            is_less(&items[a], &items[b])
        }
    });
}

/// Heapsort over indices: `op(a, b, false)` is "element a < element b", `op(a, b, true)` swaps
/// them. Not generic, so that the element types do not each get a copy.
fn heapsort(n: usize, op: &mut dyn FnMut(usize, usize, bool) -> bool) {
    fn sift_down(op: &mut dyn FnMut(usize, usize, bool) -> bool, mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                break;
            }
            if child + 1 < end && op(child, child + 1, false) {
                child += 1;
            }
            if !op(root, child, false) {
                break;
            }
            op(root, child, true);
            root = child;
        }
    }
    for root in (0..n / 2).rev() {
        sift_down(op, root, n);
    }
    for end in (1..n).rev() {
        op(0, end, true);
        sift_down(op, 0, end);
    }
}

/// Stable sort by key for a list of a few elements (insertion sort, quadratic).
pub(crate) fn sort_few_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && key(&items[j]) < key(&items[j - 1]) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Moves the elements for which `first` holds before the others, keeping the order within each
/// group: what `sort_by_key(|x| !first(x))` does, in one pass.
pub(crate) fn partition_stable<T>(items: &mut Vec<T>, mut first: impl FnMut(&T) -> bool) {
    let (mut head, tail): (Vec<T>, Vec<T>) = std::mem::take(items).into_iter().partition(|x| first(x));
    head.extend(tail);
    *items = head;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(len: usize, modulus: u32, seed: &mut u32) -> Vec<(u32, usize)> {
        (0..len)
            .map(|i| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 17;
                *seed ^= *seed << 5;
                (*seed % modulus, i)
            })
            .collect()
    }

    #[test]
    fn match_the_standard_sorts() {
        let mut seed = 0x2545_f491_u32;
        for len in (0..40).chain([100, 257, 1000]) {
            // Distinct keys: the tuple (key, index) is unique.
            let items = random(len, 7, &mut seed);
            let mut ours = items.clone();
            sort_distinct_by(&mut ours, |a, b| a < b);
            let mut std = items.clone();
            std.sort_unstable();
            assert_eq!(ours, std);
            let mut ours = items.clone();
            sort_distinct_by(&mut ours, |a, b| a > b);
            std.reverse();
            assert_eq!(ours, std);
            // Equal keys on short lists keep their document order.
            if len <= 32 {
                let mut ours = items.clone();
                sort_distinct_by(&mut ours, |a, b| a.0 < b.0);
                let mut std = items.clone();
                std.sort_by_key(|item| item.0);
                assert_eq!(ours, std);
            }
            // Many equal keys: stable.
            let mut ours = items.clone();
            sort_few_by_key(&mut ours, |item| item.0);
            let mut std = items.clone();
            std.sort_by_key(|item| item.0);
            assert_eq!(ours, std);
            let mut ours = items.clone();
            partition_stable(&mut ours, |item| item.0 % 2 == 0);
            let mut std = items;
            std.sort_by_key(|item| item.0 % 2 != 0);
            assert_eq!(ours, std);
        }
    }
}
