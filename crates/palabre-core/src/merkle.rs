//! RFC 9162 (Certificate Transparency v2) Merkle tree maths: leaf and node hashes, tree
//! roots, inclusion and consistency proofs, and their verification.
//!
//! Where the hashes of complete subtrees come from is abstracted by [`Nodes`], so that
//! the store can serve proofs from disk in O(log n) reads; [`MemoryTree`] keeps them in
//! memory and [`Frontier`] computes a root while streaming leaves. Nothing here knows
//! what a leaf means: callers pass leaf hashes (`leaf_hash` of the entry's bytes).

use sha2::{Digest, Sha256};

use crate::ids::Hash;

/// SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Hash(h.finalize().into())
}

/// SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Hash::of(b"")
}

/// Why a Merkle proof cannot be made or does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// An inclusion proof for an index not below the tree size.
    #[error("index {index} is not below the tree size {size}")]
    IndexOutOfRange {
        /// The leaf index asked for (0-based).
        index: u64,
        /// The size of the tree asked about.
        size: u64,
    },
    /// A proof at a size beyond the leaves available.
    #[error("size {size} is beyond the {available} leaves available")]
    SizeOutOfRange {
        /// The tree size asked for.
        size: u64,
        /// How many leaves the tree holds.
        available: u64,
    },
    /// A consistency proof between sizes not ordered `0 < old ≤ new`.
    #[error("a consistency proof needs 0 < old size ≤ new size (got {old} and {new})")]
    BadSizes {
        /// The smaller tree's size.
        old: u64,
        /// The larger tree's size.
        new: u64,
    },
    /// The proof has more or fewer hashes than its sizes call for.
    #[error("the proof has the wrong number of hashes")]
    BadProofLength,
    /// The proof's hashes do not recompute the expected root.
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// Where the hashes of complete (perfect) subtrees come from.
pub trait Nodes {
    /// Number of leaves available.
    fn size(&self) -> u64;
    /// The hash of the perfect subtree over leaves [index·2^level, (index+1)·2^level);
    /// only asked for subtrees fully inside `size()`. Level 0 gives leaf hashes.
    fn node(&self, level: u32, index: u64) -> Hash;
}

/// All perfect-subtree hashes of a tree, in memory (2 hashes per leaf).
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Appends a leaf hash, completing the perfect subtrees it closes.
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let n = self.levels[level].len();
            if n % 2 == 1 {
                break;
            }
            hash = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            level += 1;
        }
    }

    /// How many leaves it holds.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The leaf hash at `index`, if the tree holds that many leaves.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels
            .first()?
            .get(usize::try_from(index).ok()?)
            .copied()
    }
}

impl Nodes for MemoryTree {
    fn size(&self) -> u64 {
        MemoryTree::size(self)
    }

    fn node(&self, level: u32, index: u64) -> Hash {
        self.levels[level as usize][index as usize]
    }
}

/// The roots of the perfect subtrees along the right edge: enough to compute the root of
/// a growing tree in O(log n) memory.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// (level, hash), levels strictly decreasing.
    stack: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Appends a leaf hash, merging the equal-sized subtrees it completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut entry = (0u32, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != entry.0 {
                break;
            }
            self.stack.pop();
            entry = (level + 1, node_hash(&left, &entry.1));
        }
        self.stack.push(entry);
        self.size += 1;
    }

    /// How many leaves were pushed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 9162 root of the leaves pushed so far (the empty root if none).
    pub fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return empty_root();
        };
        for (_, left) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// The largest power of two strictly smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH of the leaves [start, start + n), using perfect-subtree nodes where possible.
fn subtree<N: Nodes + ?Sized>(nodes: &N, start: u64, n: u64) -> Hash {
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return nodes.node(level, start >> level);
    }
    let k = split(n);
    node_hash(&subtree(nodes, start, k), &subtree(nodes, start + k, n - k))
}

/// The root of the first `size` leaves.
pub fn root_at<N: Nodes + ?Sized>(nodes: &N, size: u64) -> Result<Hash, MerkleError> {
    if size > nodes.size() {
        return Err(MerkleError::SizeOutOfRange {
            size,
            available: nodes.size(),
        });
    }
    if size == 0 {
        return Ok(empty_root());
    }
    Ok(subtree(nodes, 0, size))
}

/// The reference definition (RFC 9162 §2.1.1) over a slice of leaf hashes.
pub fn root_of_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of_leaves(&leaves[..k]), &root_of_leaves(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 9162
/// §2.1.3.1), bottom-up.
pub fn inclusion_proof<N: Nodes + ?Sized>(
    nodes: &N,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    if size > nodes.size() {
        return Err(MerkleError::SizeOutOfRange {
            size,
            available: nodes.size(),
        });
    }
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut path = Vec::new();
    let (mut start, mut n, mut m) = (0u64, size, index);
    while n > 1 {
        let k = split(n);
        if m < k {
            path.push(subtree(nodes, start + k, n - k));
            n = k;
        } else {
            path.push(subtree(nodes, start, k));
            start += k;
            m -= k;
            n -= k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof between the trees of the first `old` and `new` leaves (RFC 9162
/// §2.1.4.1). `old == new` gives an empty proof; `old == 0` is refused, as RFC 9162
/// defines no proof from the empty tree (every tree is consistent with it).
pub fn consistency_proof<N: Nodes + ?Sized>(
    nodes: &N,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, MerkleError> {
    if new > nodes.size() {
        return Err(MerkleError::SizeOutOfRange {
            size: new,
            available: nodes.size(),
        });
    }
    if old == 0 || old > new {
        return Err(MerkleError::BadSizes { old, new });
    }
    let mut proof = Vec::new();
    subproof(nodes, old, 0, new, true, &mut proof);
    Ok(proof)
}

/// SUBPROOF(m, D[start:start+n], b) of RFC 9162, appending bottom-up like the RFC.
fn subproof<N: Nodes + ?Sized>(
    nodes: &N,
    m: u64,
    start: u64,
    n: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) {
    if m == n {
        if !complete {
            out.push(subtree(nodes, start, n));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(nodes, m, start, k, complete, out);
        out.push(subtree(nodes, start + k, n - k));
    } else {
        subproof(nodes, m - k, start + k, n - k, false, out);
        out.push(subtree(nodes, start, k));
    }
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(MerkleError::BadProofLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(MerkleError::BadProofLength);
    }
    if r != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// Runs the RFC 9162 §2.1.4.2 algorithm and returns the (old, new) roots the proof
/// leads to, without comparing them.
pub fn consistency_roots(
    old: u64,
    new: u64,
    old_root: &Hash,
    proof: &[Hash],
) -> Result<(Hash, Hash), MerkleError> {
    if old == 0 || old > new {
        return Err(MerkleError::BadSizes { old, new });
    }
    if old == new {
        return if proof.is_empty() {
            Ok((*old_root, *old_root))
        } else {
            Err(MerkleError::BadProofLength)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(MerkleError::BadProofLength);
    };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    if fn_ & 1 == 1 {
        while fn_ & 1 == 1 {
            fn_ >>= 1;
            sn >>= 1;
        }
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return Err(MerkleError::BadProofLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(MerkleError::BadProofLength);
    }
    Ok((fr, sr))
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    let (fr, sr) = consistency_roots(old, new, old_root, proof)?;
    if fr != *old_root || sr != *new_root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn h(s: &str) -> Hash {
        s.parse().expect("test hash")
    }

    /// The eight leaf inputs of the RFC 6962 reference tests (Certificate Transparency's
    /// `merkle_tree_test.cc`, reused by transparency-dev/merkle's `testonly` package).
    fn reference_leaves() -> Vec<Hash> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|x| leaf_hash(&hex::decode(x).expect("hex")))
        .collect()
    }

    fn tree_of(leaves: &[Hash]) -> MemoryTree {
        let mut t = MemoryTree::new();
        for l in leaves {
            t.push(*l);
        }
        t
    }

    #[test]
    fn reference_roots() {
        // Expected roots of the first 1..=8 reference leaves (same source).
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves = reference_leaves();
        let tree = tree_of(&leaves);
        assert_eq!(
            empty_root(),
            h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        for (i, expected) in roots.iter().enumerate() {
            let size = i as u64 + 1;
            assert_eq!(
                root_at(&tree, size).expect("root"),
                h(expected),
                "size {size}"
            );
            assert_eq!(root_of_leaves(&leaves[..=i]), h(expected));
        }
    }

    #[test]
    fn reference_inclusion_proofs() {
        // (index, size, path) from the same reference tests.
        let cases: [(u64, u64, &[&str]); 5] = [
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let leaves = reference_leaves();
        let tree = tree_of(&leaves);
        for (index, size, path) in cases {
            let expected: Vec<Hash> = path.iter().map(|p| h(p)).collect();
            assert_eq!(
                inclusion_proof(&tree, index, size).expect("proof"),
                expected,
                "{index}/{size}"
            );
            let root = root_at(&tree, size).expect("root");
            assert_eq!(
                verify_inclusion(&leaves[index as usize], index, size, &expected, &root),
                Ok(())
            );
        }
    }

    #[test]
    fn reference_consistency_proofs() {
        // (old, new, proof) from the same reference tests.
        let cases: [(u64, u64, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let tree = tree_of(&reference_leaves());
        for (old, new, proof) in cases {
            let expected: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
            assert_eq!(
                consistency_proof(&tree, old, new).expect("proof"),
                expected,
                "{old}→{new}"
            );
            let (a, b) = (
                root_at(&tree, old).expect("root"),
                root_at(&tree, new).expect("root"),
            );
            assert_eq!(verify_consistency(old, new, &a, &b, &expected), Ok(()));
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn every_proof_verifies_up_to_64_leaves() {
        let all = leaves(64);
        let tree = tree_of(&all);
        for size in 1..=64u64 {
            let root = root_at(&tree, size).expect("root");
            assert_eq!(root, root_of_leaves(&all[..size as usize]));
            for index in 0..size {
                let proof = inclusion_proof(&tree, index, size).expect("proof");
                assert_eq!(
                    verify_inclusion(&all[index as usize], index, size, &proof, &root),
                    Ok(())
                );
            }
            for old in 1..=size {
                let proof = consistency_proof(&tree, old, size).expect("proof");
                let old_root = root_at(&tree, old).expect("root");
                assert_eq!(
                    verify_consistency(old, size, &old_root, &root, &proof),
                    Ok(()),
                    "{old}→{size}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn inclusion_proofs_verify_and_mutations_fail(size in 1u64..300, index_seed in any::<u64>(), flip in any::<prop::sample::Index>(), bit in 0usize..256) {
            let all = leaves(size);
            let tree = tree_of(&all);
            let index = index_seed % size;
            let root = root_at(&tree, size).expect("root");
            let proof = inclusion_proof(&tree, index, size).expect("proof");
            prop_assert_eq!(verify_inclusion(&all[index as usize], index, size, &proof, &root), Ok(()));
            let mut frontier = Frontier::new();
            for l in &all { frontier.push(*l); }
            prop_assert_eq!(frontier.root(), root);
            if size > 1 {
                let other = (index + 1) % size;
                prop_assert!(verify_inclusion(&all[index as usize], other, size, &proof, &root).is_err());
            }
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = flip.index(bad.len());
                bad[i].0[bit / 8] ^= 1 << (bit % 8);
                prop_assert!(verify_inclusion(&all[index as usize], index, size, &bad, &root).is_err());
                let mut short = proof.clone();
                short.pop();
                prop_assert!(verify_inclusion(&all[index as usize], index, size, &short, &root).is_err());
            }
            let mut long = proof.clone();
            long.push(root);
            prop_assert!(verify_inclusion(&all[index as usize], index, size, &long, &root).is_err());
        }

        #[test]
        fn consistency_proofs_verify_and_mutations_fail(new in 1u64..300, old_seed in any::<u64>(), flip in any::<prop::sample::Index>(), bit in 0usize..256) {
            let tree = tree_of(&leaves(new));
            let old = old_seed % new + 1;
            let (a, b) = (root_at(&tree, old).expect("root"), root_at(&tree, new).expect("root"));
            let proof = consistency_proof(&tree, old, new).expect("proof");
            prop_assert_eq!(verify_consistency(old, new, &a, &b, &proof), Ok(()));
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = flip.index(bad.len());
                bad[i].0[bit / 8] ^= 1 << (bit % 8);
                prop_assert!(verify_consistency(old, new, &a, &b, &bad).is_err());
                let mut short = proof.clone();
                short.pop();
                prop_assert!(verify_consistency(old, new, &a, &b, &short).is_err());
            }
            let mut long = proof.clone();
            long.push(a);
            prop_assert!(verify_consistency(old, new, &a, &b, &long).is_err());
            let mut wrong_old = a;
            wrong_old.0[0] ^= 1;
            prop_assert!(verify_consistency(old, new, &wrong_old, &b, &proof).is_err());
        }
    }
}
