//! Raw log line → hashed token buckets, with no parser state.
//!
//! The same code runs in the trainer and on the device, so a model never sees
//! a token the device would compute differently. It works on bytes: invalid
//! UTF-8 is featurized like any other text, and a line is read only until
//! `max_tokens` tokens are found, so a 10 MB line costs no more memory than a
//! short one.
//!
//! Steps, per whitespace-separated field:
//! 1. a field that looks like an IPv4 address (optionally `/`-prefixed, with
//!    a `:port`) becomes `<ip>`; one that looks like a path (starts with `/`
//!    or `./`, or holds two `/`) becomes `<path>`;
//! 2. any other field is split into words at every byte that is not ASCII
//!    alphanumeric, `_`, or non-ASCII; words are lowercased;
//! 3. a word with a digit becomes `<num>` (`<hex>` for `0x…`), and a word of
//!    8+ hex digits becomes `<hex>`: numbers, ids, addresses and timestamps
//!    vary between lines of one template;
//! 4. runs of the same mask token collapse to one, so a timestamp does not
//!    use up the token budget;
//! 5. each token is hashed (FNV-1a, 32-bit, seeded) into buckets
//!    `1..buckets`; bucket 0 is padding.

use crate::config::FeaturizerConfig;

/// Turns raw log lines into bucket ids. Cheap to copy; holds no state between
/// lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Featurizer {
    config: FeaturizerConfig,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mask {
    Num,
    Hex,
    Ip,
    Path,
}

impl Mask {
    fn text(self) -> &'static [u8] {
        match self {
            Mask::Num => b"<num>",
            Mask::Hex => b"<hex>",
            Mask::Ip => b"<ip>",
            Mask::Path => b"<path>",
        }
    }
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn looks_like_ip(field: &[u8]) -> bool {
    let f = field.strip_prefix(b"/").unwrap_or(field);
    let host = match f.iter().position(|&b| b == b':') {
        Some(i) => &f[..i],
        None => f,
    };
    let dots = host.iter().filter(|&&b| b == b'.').count();
    dots == 3
        && host.iter().all(|&b| b.is_ascii_digit() || b == b'.')
        && !host.starts_with(b".")
        && !host.ends_with(b".")
}

fn looks_like_path(field: &[u8]) -> bool {
    let slashes = field.iter().filter(|&&b| b == b'/').count();
    (field.starts_with(b"/") && field.len() > 1) || field.starts_with(b"./") || slashes >= 2
}

/// Where tokens go: a bounded output slice and the last mask written, so runs
/// of one mask collapse.
struct Sink<'a> {
    out: &'a mut [u16],
    len: usize,
    last_mask: Option<Mask>,
    featurizer: &'a Featurizer,
}

impl Sink<'_> {
    fn full(&self) -> bool {
        self.len >= self.out.len()
    }

    fn push_hash(&mut self, hash: u32) {
        if let Some(slot) = self.out.get_mut(self.len) {
            *slot = self.featurizer.bucket(hash);
            self.len += 1;
        }
    }

    fn push_mask(&mut self, mask: Mask) {
        if self.last_mask == Some(mask) {
            return;
        }
        self.last_mask = Some(mask);
        let hash = self.featurizer.hash_bytes(mask.text());
        self.push_hash(hash);
    }

    fn push_word(&mut self, word: &[u8]) {
        let has_digit = word.iter().any(u8::is_ascii_digit);
        let is_0x = word.len() > 2
            && (word.starts_with(b"0x") || word.starts_with(b"0X"))
            && word[2..].iter().all(u8::is_ascii_hexdigit);
        // Pure decimal is a number; 8+ hex digits with a letter is an id/address.
        let long_hex = word.len() >= 8
            && word.iter().all(u8::is_ascii_hexdigit)
            && !word.iter().all(u8::is_ascii_digit);
        if is_0x || long_hex {
            self.push_mask(Mask::Hex);
        } else if has_digit {
            self.push_mask(Mask::Num);
        } else {
            self.last_mask = None;
            let mut h = self.featurizer.seeded_offset();
            for &b in word {
                h = fnv_step(h, b.to_ascii_lowercase());
            }
            self.push_hash(h);
        }
    }
}

fn fnv_step(h: u32, b: u8) -> u32 {
    (h ^ u32::from(b)).wrapping_mul(FNV_PRIME)
}

impl Featurizer {
    /// A featurizer for `config`. `config.buckets` must be at least 2 and at
    /// most [`FeaturizerConfig::MAX_BUCKETS`] (checked by
    /// [`crate::ModelConfig::validate`]); smaller values are clamped to 2 so
    /// this never panics.
    pub fn new(config: FeaturizerConfig) -> Self {
        Self { config }
    }

    /// The configuration this featurizer was built with.
    pub fn config(&self) -> FeaturizerConfig {
        self.config
    }

    fn seeded_offset(&self) -> u32 {
        let mut h = FNV_OFFSET;
        for b in self.config.hash_seed.to_le_bytes() {
            h = fnv_step(h, b);
        }
        h
    }

    fn hash_bytes(&self, bytes: &[u8]) -> u32 {
        bytes
            .iter()
            .fold(self.seeded_offset(), |h, &b| fnv_step(h, b))
    }

    fn bucket(&self, hash: u32) -> u16 {
        let buckets = self.config.buckets.clamp(2, FeaturizerConfig::MAX_BUCKETS);
        // 1..buckets; the result is < 2^16 because buckets <= 2^16.
        (1 + hash % (buckets - 1)) as u16
    }

    /// Writes the bucket ids of `line`'s first tokens into `out` and returns
    /// how many were written: at most `min(out.len(), max_tokens)`.
    ///
    /// A trailing `\n` or `\r\n` is ignored. An empty line yields 0 tokens.
    pub fn featurize(&self, line: &[u8], out: &mut [u16]) -> usize {
        let cap = out.len().min(usize::from(self.config.max_tokens));
        let mut sink = Sink {
            out: &mut out[..cap],
            len: 0,
            last_mask: None,
            featurizer: self,
        };
        for field in line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty())
        {
            if sink.full() {
                break;
            }
            if looks_like_ip(field) {
                sink.push_mask(Mask::Ip);
            } else if looks_like_path(field) {
                sink.push_mask(Mask::Path);
            } else {
                for word in field.split(|&b| !is_word_byte(b)).filter(|w| !w.is_empty()) {
                    if sink.full() {
                        break;
                    }
                    sink.push_word(word);
                }
            }
        }
        sink.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(line: &str) -> ([u16; 64], usize) {
        let f = Featurizer::new(FeaturizerConfig {
            max_tokens: 64,
            ..FeaturizerConfig::default()
        });
        let mut out = [0u16; 64];
        let n = f.featurize(line.as_bytes(), &mut out);
        (out, n)
    }

    #[test]
    fn same_template_with_different_numbers_gives_same_tokens() {
        let (a, na) = tokens("Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010");
        let (b, nb) = tokens("Receiving block blk_-42 src: /10.1.1.1:1 dest: /10.250.10.6:50010");
        assert_eq!(&a[..na], &b[..nb]);
    }

    #[test]
    fn different_words_give_different_tokens() {
        let (a, na) = tokens("instruction cache parity error corrected");
        let (b, nb) = tokens("data TLB error interrupt");
        assert_ne!(&a[..na], &b[..nb]);
    }

    #[test]
    fn case_is_normalised() {
        assert_eq!(tokens("KERNEL Fatal"), tokens("kernel fatal"));
    }

    #[test]
    fn runs_of_masks_collapse() {
        let (_, n) = tokens("2005-06-03-15.42.50.675872 1117838570 0x1f");
        // <num> (collapsed over both fields), then <hex>.
        assert_eq!(n, 2);
    }

    #[test]
    fn paths_and_ips_are_masked() {
        assert_eq!(tokens("/mnt/hadoop/a.jar"), tokens("/var/log/b"));
        assert_eq!(tokens("10.0.0.1"), tokens("/192.168.1.20:80"));
    }

    #[test]
    fn buckets_stay_in_range_and_never_zero() {
        let f = Featurizer::new(FeaturizerConfig {
            buckets: 7,
            max_tokens: 16,
            hash_seed: 3,
        });
        let mut out = [0u16; 16];
        let n = f.featurize(b"a b c d e f g h i j k l m n o p q", &mut out);
        assert_eq!(n, 16);
        assert!(out.iter().all(|&b| (1..7).contains(&b)));
    }

    #[test]
    fn empty_and_whitespace_lines_give_no_tokens() {
        assert_eq!(tokens("").1, 0);
        assert_eq!(tokens(" \t \r\n").1, 0);
    }

    #[test]
    fn invalid_utf8_is_featurized() {
        let f = Featurizer::new(FeaturizerConfig::default());
        let mut out = [0u16; 40];
        let n = f.featurize(b"bad \xff\xfe bytes \xc3", &mut out);
        assert_eq!(n, 4);
    }

    #[test]
    fn output_is_bounded_by_max_tokens_and_slice() {
        let f = Featurizer::new(FeaturizerConfig::default());
        let mut small = [0u16; 5];
        assert_eq!(f.featurize(b"a b c d e f g h", &mut small), 5);
        let mut big = [0u16; 100];
        let long = b"word ".repeat(1000);
        assert_eq!(f.featurize(&long, &mut big), 40);
    }
}
