//! SHA-256 for what this crate hashes in bulk: the invoice (every canonical byte of every
//! document) and the SignedProperties. It is `sha2`'s block function everywhere (which itself
//! uses the CPU's SHA extensions when it finds them), except on x86-64 CPUs without SHA
//! extensions but with AVX2 and BMI2 (Intel Haswell to Comet Lake, AMD before Zen), where a block
//! function compiled for those features computes the message schedule four words at a time in
//! vector registers while the rounds use BMI2's three-operand rotates: 1.5x `sha2`'s portable
//! code on such a CPU, but 5x slower than SHA-NI, so SHA-NI wins wherever it is present. The
//! ECDSA internals (RFC 6979 HMAC, the message digest) keep `sha2`.

/// Which block function [`Sha256`] runs on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `sha2`'s block function on the CPU's SHA extensions (x86 SHA-NI).
    Sha2ShaNi,
    /// This module's AVX2 + BMI2 block function (x86-64 without SHA extensions).
    Avx2Bmi2,
    /// `sha2`'s block function in portable code (or its own non-x86 acceleration).
    Sha2,
}

impl Backend {
    /// A short name, for benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sha2ShaNi => "sha2 crate, SHA-NI",
            Backend::Avx2Bmi2 => "core AVX2+BMI2",
            Backend::Sha2 => "sha2 crate",
        }
    }
}

/// The block function chosen for this CPU (the detection is cached by std).
pub fn backend() -> Backend {
    #[cfg(target_arch = "x86_64")]
    {
        // The same features `sha2` requires before it takes its SHA-NI path.
        if std::is_x86_feature_detected!("sha")
            && std::is_x86_feature_detected!("sse2")
            && std::is_x86_feature_detected!("ssse3")
            && std::is_x86_feature_detected!("sse4.1")
        {
            return Backend::Sha2ShaNi;
        }
        if x86::available() {
            return Backend::Avx2Bmi2;
        }
    }
    Backend::Sha2
}

/// An incremental SHA-256.
#[derive(Clone)]
pub struct Sha256(Inner);

#[derive(Clone)]
enum Inner {
    /// `sha2`'s own hasher, whichever block function it picks (SHA-NI, portable, ...).
    Crate(sha2::Sha256),
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2Hasher),
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    /// An empty hash.
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        if backend() == Backend::Avx2Bmi2 {
            return Sha256(Inner::Avx2(Avx2Hasher::new()));
        }
        Sha256(Inner::Crate(sha2::Digest::new()))
    }

    /// An empty hash on a given block function, or `None` when this CPU lacks it (for the
    /// benchmark that compares them).
    #[doc(hidden)]
    pub fn with_backend(wanted: Backend) -> Option<Self> {
        match wanted {
            Backend::Sha2 => Some(Sha256(Inner::Crate(sha2::Digest::new()))),
            Backend::Sha2ShaNi => (backend() == Backend::Sha2ShaNi).then(|| Sha256(Inner::Crate(sha2::Digest::new()))),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2Bmi2 => x86::available().then(|| Sha256(Inner::Avx2(Avx2Hasher::new()))),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Avx2Bmi2 => None,
        }
    }

    /// The digest of `data`.
    pub fn digest(data: impl AsRef<[u8]>) -> [u8; 32] {
        let mut sha = Sha256::new();
        sha.update(data);
        sha.finalize()
    }

    /// Appends `data` to the message.
    pub fn update(&mut self, data: impl AsRef<[u8]>) {
        match &mut self.0 {
            Inner::Crate(h) => sha2::Digest::update(h, data.as_ref()),
            #[cfg(target_arch = "x86_64")]
            Inner::Avx2(h) => h.update(data.as_ref()),
        }
    }

    /// The digest of the message.
    pub fn finalize(self) -> [u8; 32] {
        match self.0 {
            Inner::Crate(h) => sha2::Digest::finalize(h).into(),
            #[cfg(target_arch = "x86_64")]
            Inner::Avx2(h) => h.finalize(),
        }
    }
}

/// The buffering around the AVX2 block function.
#[cfg(target_arch = "x86_64")]
#[derive(Clone)]
struct Avx2Hasher {
    state: [u32; 8],
    /// Bytes of an unfinished block.
    pending: [u8; 64],
    pending_len: usize,
    /// Message length in bytes.
    len: u64,
}

#[cfg(target_arch = "x86_64")]
const INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

#[cfg(target_arch = "x86_64")]
impl Avx2Hasher {
    fn new() -> Self {
        Avx2Hasher {
            state: INITIAL,
            pending: [0; 64],
            pending_len: 0,
            len: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.pending_len > 0 {
            let take = (64 - self.pending_len).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.pending.get_mut(self.pending_len..self.pending_len + take) {
                dst.copy_from_slice(head);
            }
            self.pending_len += take;
            data = rest;
            if self.pending_len < 64 {
                return;
            }
            x86::compress(&mut self.state, &self.pending);
            self.pending_len = 0;
        }
        let whole = data.len() - data.len() % 64;
        let (blocks, rest) = data.split_at(whole);
        x86::compress(&mut self.state, blocks);
        if let Some(dst) = self.pending.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.pending_len = rest.len();
    }

    /// Pads the message (FIPS 180-4 §5.1.1) and returns the digest.
    fn finalize(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        let mut tail = [0u8; 128];
        let n = self.pending_len.min(64);
        if let (Some(dst), Some(src)) = (tail.get_mut(..n), self.pending.get(..n)) {
            dst.copy_from_slice(src);
        }
        if let Some(b) = tail.get_mut(n) {
            *b = 0x80;
        }
        // One block when the length still fits after the 0x80 byte, else two.
        let total = if n < 56 { 64 } else { 128 };
        if let Some(dst) = tail.get_mut(total - 8..total) {
            dst.copy_from_slice(&bits.to_be_bytes());
        }
        if let Some(tail) = tail.get(..total) {
            x86::compress(&mut self.state, tail);
        }
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    //! The AVX2 + BMI2 block function. The schedule follows FIPS 180-4 §6.2.2 step 1 four words
    //! at a time (the two words whose σ1 inputs are in the same group are finished in a second
    //! pass); the rounds are step 3 with W[t] + K[t] read from a table the schedule fills.

    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_blend_epi32, _mm_or_si128, _mm_set_epi32, _mm_slli_epi32, _mm_slli_si128,
        _mm_srli_epi32, _mm_srli_si128, _mm_storeu_si128, _mm_xor_si128,
    };

    pub(super) fn available() -> bool {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("bmi2")
    }

    pub(super) fn compress(state: &mut [u32; 8], blocks: &[u8]) {
        // SAFETY: an `Avx2Hasher` (the only caller) is made only after `available()` found AVX2
        // and BMI2 on this CPU.
        unsafe { compress_avx2_bmi2(state, blocks) }
    }

    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// σ0 of four words: ROTR 7 ^ ROTR 18 ^ SHR 3.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn small_sigma0(x: __m128i) -> __m128i {
        let r7 = _mm_or_si128(_mm_srli_epi32::<7>(x), _mm_slli_epi32::<25>(x));
        let r18 = _mm_or_si128(_mm_srli_epi32::<18>(x), _mm_slli_epi32::<14>(x));
        _mm_xor_si128(_mm_xor_si128(r7, r18), _mm_srli_epi32::<3>(x))
    }

    /// σ1 of four words: ROTR 17 ^ ROTR 19 ^ SHR 10.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn small_sigma1(x: __m128i) -> __m128i {
        let r17 = _mm_or_si128(_mm_srli_epi32::<17>(x), _mm_slli_epi32::<15>(x));
        let r19 = _mm_or_si128(_mm_srli_epi32::<19>(x), _mm_slli_epi32::<13>(x));
        _mm_xor_si128(_mm_xor_si128(r17, r19), _mm_srli_epi32::<10>(x))
    }

    /// W[t..t+4] from W[t-16..t] held as four vectors, oldest first.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn schedule(w0: __m128i, w1: __m128i, w2: __m128i, w3: __m128i) -> __m128i {
        // W[t-15..t-11] and W[t-7..t-3]: each window shifted by one word.
        let w15 = _mm_or_si128(_mm_srli_si128::<4>(w0), _mm_slli_si128::<12>(w1));
        let w7 = _mm_or_si128(_mm_srli_si128::<4>(w2), _mm_slli_si128::<12>(w3));
        let partial = _mm_add_epi32(_mm_add_epi32(w0, w7), small_sigma0(w15));
        // Words t, t+1 use σ1(W[t-2], W[t-1]); words t+2, t+3 use σ1 of words t, t+1.
        let low = _mm_add_epi32(partial, small_sigma1(_mm_srli_si128::<8>(w3)));
        let high = _mm_add_epi32(partial, small_sigma1(_mm_slli_si128::<8>(low)));
        _mm_blend_epi32::<0b1100>(low, high)
    }

    /// One round; the caller rotates the roles of the eight working variables.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn round(a: u32, b: u32, c: u32, d: &mut u32, e: u32, f: u32, g: u32, h: &mut u32, wk: u32) {
        let t1 = h
            .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
            .wrapping_add(g ^ (e & (f ^ g)))
            .wrapping_add(wk);
        *d = d.wrapping_add(t1);
        *h = t1
            .wrapping_add(a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22))
            .wrapping_add(((a | b) & c) | (a & b));
    }

    #[target_feature(enable = "avx2,bmi1,bmi2")]
    fn compress_avx2_bmi2(state: &mut [u32; 8], blocks: &[u8]) {
        let k = |i: usize| K[i] as i32;
        for block in blocks.chunks_exact(64) {
            let word =
                |i: usize| i32::from_be_bytes([block[4 * i], block[4 * i + 1], block[4 * i + 2], block[4 * i + 3]]);
            let load = |i: usize| _mm_set_epi32(word(4 * i + 3), word(4 * i + 2), word(4 * i + 1), word(4 * i));
            let mut w = [load(0), load(1), load(2), load(3)];
            let mut wk = [0u32; 64];
            for group in 0..16 {
                let sum = _mm_add_epi32(
                    w[0],
                    _mm_set_epi32(k(4 * group + 3), k(4 * group + 2), k(4 * group + 1), k(4 * group)),
                );
                let (_, slot) = wk.split_at_mut(4 * group);
                // SAFETY: `slot` has at least 4 u32 (16 bytes) left: group < 16, wk has 64;
                // storeu has no alignment requirement.
                unsafe { _mm_storeu_si128(slot.as_mut_ptr().cast(), sum) };
                let next = if group < 12 {
                    schedule(w[0], w[1], w[2], w[3])
                } else {
                    w[3]
                };
                w = [w[1], w[2], w[3], next];
            }
            let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
            for wk in wk.chunks_exact(8) {
                round(a, b, c, &mut d, e, f, g, &mut h, wk[0]);
                round(h, a, b, &mut c, d, e, f, &mut g, wk[1]);
                round(g, h, a, &mut b, c, d, e, &mut f, wk[2]);
                round(f, g, h, &mut a, b, c, d, &mut e, wk[3]);
                round(e, f, g, &mut h, a, b, c, &mut d, wk[4]);
                round(d, e, f, &mut g, h, a, b, &mut c, wk[5]);
                round(c, d, e, &mut f, g, h, a, &mut b, wk[6]);
                round(b, c, d, &mut e, f, g, h, &mut a, wk[7]);
            }
            for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
                *s = s.wrapping_add(v);
            }
        }
    }

    #[cfg(test)]
    pub(super) fn compress_for_test(state: &mut [u32; 8], blocks: &[u8]) -> bool {
        if !available() {
            return false;
        }
        compress(state, blocks);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    #[test]
    fn every_available_backend_matches_sha2() {
        let d = data(64 * 40 + 17, 11);
        let want: [u8; 32] = sha2::Sha256::digest(&d).into();
        for b in [Backend::Sha2, Backend::Sha2ShaNi, Backend::Avx2Bmi2] {
            if let Some(mut sha) = Sha256::with_backend(b) {
                sha.update(&d);
                assert_eq!(sha.finalize(), want, "{b:?}");
            }
        }
    }

    fn data(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn matches_sha2_for_every_length_and_split() {
        for len in 0..=300 {
            let d = data(len, len as u32);
            let want: [u8; 32] = sha2::Sha256::digest(&d).into();
            assert_eq!(Sha256::digest(&d), want, "len {len}");
            for split in [1, 3, 55, 56, 63, 64, 65, 127] {
                let mut sha = Sha256::new();
                for piece in d.chunks(split) {
                    sha.update(piece);
                }
                assert_eq!(sha.finalize(), want, "len {len} in pieces of {split}");
            }
        }
    }

    #[test]
    fn matches_sha2_on_large_inputs() {
        for (len, seed) in [(14_000, 1), (65_536, 2), (100_003, 3)] {
            let d = data(len, seed);
            let want: [u8; 32] = sha2::Sha256::digest(&d).into();
            assert_eq!(Sha256::digest(&d), want);
        }
    }

    #[test]
    fn known_answers() {
        // FIPS 180-2 appendix B.1 and B.2.
        assert_eq!(
            Sha256::digest(b"abc"),
            [
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0,
                0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad
            ]
        );
        assert_eq!(
            Sha256::digest(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")[..4],
            [0x24, 0x8d, 0x6a, 0x61]
        );
    }

    /// The vector block function against sha2's directly, whatever the dispatch picks.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_block_function_matches_sha2() {
        let d = data(64 * 97, 7);
        let blocks: Vec<[u8; 64]> = d.chunks_exact(64).filter_map(|c| c.try_into().ok()).collect();
        for start in [INITIAL, [1, 2, 3, 4, 5, 6, 7, 8], [u32::MAX; 8]] {
            let mut want = start;
            sha2::block_api::compress256(&mut want, &blocks);
            let mut got = start;
            if !x86::compress_for_test(&mut got, &d) {
                eprintln!("no AVX2/BMI2 on this CPU: vector block function not tested");
                return;
            }
            assert_eq!(got, want);
        }
    }
}
