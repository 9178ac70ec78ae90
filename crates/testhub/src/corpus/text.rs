//! Message text shaped like the real sources' (lmsys/lmsys-chat-1m, allenai/WildChat-1M): each
//! message's length in characters drawn from the real medians and 10th–90th percentiles by
//! source and role, a rare message of up to 90,000 characters, and words from a large vocabulary
//! in the row's script (Latin, with accents outside English; Cyrillic for Russian; Han for
//! Chinese), drawn with a Zipf-like law so that common words recur and rows rarely repeat, as
//! in the real text (where Parquet's dictionary pages end up holding most of it).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, ListArray, StringArray, StructArray};

use super::Rng;

/// Message lengths in characters: log-normal through the real median, 10th and 90th percentiles.
#[derive(Debug, Clone, Copy)]
struct Lengths {
    median: f64,
    p10: f64,
    p90: f64,
}

/// The 90th percentile of the standard normal distribution.
const Z90: f64 = 1.281_551_6;
/// The longest message, as the longest real ones.
const LONGEST: usize = 90_000;
/// One message in this many is long (5,000 to 90,000 characters).
const LONG_ONE_IN: u64 = 2_000;

impl Lengths {
    fn draw(&self, rng: &mut Rng) -> usize {
        if rng.next().is_multiple_of(LONG_ONE_IN) {
            return 5_000 + rng.below(LONGEST - 5_000);
        }
        let sigma = (self.p90.ln() - self.p10.ln()) / (2.0 * Z90);
        let length = (self.median.ln() + sigma * rng.normal()).exp();
        (length.round() as usize).clamp(1, LONGEST)
    }
}

/// A source's message lengths, by role.
#[derive(Debug, Clone, Copy)]
pub(super) struct MessageShape {
    user: Lengths,
    assistant: Lengths,
}

/// lmsys/lmsys-chat-1m: user 81 (20–300), assistant 376 (105–1,257) characters.
pub(super) const LMSYS: MessageShape = MessageShape {
    user: Lengths {
        median: 81.0,
        p10: 20.0,
        p90: 300.0,
    },
    assistant: Lengths {
        median: 376.0,
        p10: 105.0,
        p90: 1_257.0,
    },
};

/// allenai/WildChat-1M: user 190 (48–722), assistant 1,065 (359–2,967) characters.
pub(super) const WILDCHAT: MessageShape = MessageShape {
    user: Lengths {
        median: 190.0,
        p10: 48.0,
        p90: 722.0,
    },
    assistant: Lengths {
        median: 1_065.0,
        p10: 359.0,
        p90: 2_967.0,
    },
};

/// Words a script's vocabulary holds.
const WORDS: usize = 60_000;
/// How much more often common words come: the logarithm of a word's rank is uniform raised to
/// this power, which brings Snappy's ratio on the text to the real shards' bytes a row.
const SKEW: f64 = 2.0;

/// Words in three scripts.
pub(super) struct Vocabulary {
    latin: Vec<String>,
    accented: Vec<String>,
    cyrillic: Vec<String>,
    han: Vec<String>,
}

#[derive(Clone, Copy)]
enum Script {
    Latin,
    Accented,
    Cyrillic,
    Han,
}

fn script_of(language: &str) -> Script {
    match language {
        "English" => Script::Latin,
        "Russian" => Script::Cyrillic,
        "Chinese" => Script::Han,
        _ => Script::Accented,
    }
}

fn syllable_words(rng: &mut Rng, consonants: &[char], vowels: &[char]) -> Vec<String> {
    (0..WORDS)
        .map(|_| {
            let syllables = 1 + rng.below(4);
            let mut word = String::new();
            for _ in 0..syllables {
                word.push(consonants[rng.below(consonants.len())]);
                word.push(vowels[rng.below(vowels.len())]);
            }
            if rng.chance(0.3) {
                word.push(consonants[rng.below(consonants.len())]);
            }
            word
        })
        .collect()
}

impl Vocabulary {
    pub(super) fn new(seed: u64) -> Vocabulary {
        let mut rng = Rng::new(seed ^ 0x0000_0000_70c4_b0ab);
        let consonants: Vec<char> = "bcdfghjklmnprstvwz".chars().collect();
        let vowels: Vec<char> = "aeiou".chars().collect();
        let accented_vowels: Vec<char> = "aeiouaeiouaeiouáéíóúàèçñäöü".chars().collect();
        let cyrillic_consonants: Vec<char> = "бвгджзклмнпрстфхцчшщ".chars().collect();
        let cyrillic_vowels: Vec<char> = "аеиоуыэюяё".chars().collect();
        let latin = syllable_words(&mut rng, &consonants, &vowels);
        let accented = syllable_words(&mut rng, &consonants, &accented_vowels);
        let cyrillic = syllable_words(&mut rng, &cyrillic_consonants, &cyrillic_vowels);
        // Han words of one or two characters from the 6,000 after U+4E00.
        let han = (0..WORDS)
            .map(|_| {
                (0..1 + rng.below(2))
                    .map(|_| char::from_u32(0x4e00 + rng.below(6_000) as u32).unwrap_or('中'))
                    .collect()
            })
            .collect();
        Vocabulary {
            latin,
            accented,
            cyrillic,
            han,
        }
    }

    /// About `length` characters of text in `script`.
    fn text(&self, script: Script, length: usize, rng: &mut Rng) -> String {
        let (words, separator) = match script {
            Script::Latin => (&self.latin, " "),
            Script::Accented => (&self.accented, " "),
            Script::Cyrillic => (&self.cyrillic, " "),
            Script::Han => (&self.han, ""),
        };
        let mut text = String::with_capacity(length * 3);
        let mut characters = 0;
        while characters < length {
            if characters > 0 {
                let punctuation = rng.next().is_multiple_of(12);
                let mark = match (punctuation, script) {
                    (true, Script::Han) => "，",
                    (true, _) => ". ",
                    (false, _) => separator,
                };
                text.push_str(mark);
                characters += mark.chars().count();
            }
            // Zipf-like: the rank's logarithm uniform, so that common words recur.
            let rank =
                ((rng.unit().powf(SKEW) * (WORDS as f64).ln()).exp() as usize).saturating_sub(1);
            let word = &words[rank.min(WORDS - 1)];
            text.push_str(word);
            characters += word.chars().count();
        }
        text
    }
}

/// What the generated text came to, for the benchmark to print beside its numbers.
#[derive(Debug, Clone, Default)]
pub struct TextStats {
    pub user_lengths: Vec<u32>,
    pub assistant_lengths: Vec<u32>,
    pub characters: u64,
    pub non_ascii_characters: u64,
}

impl TextStats {
    fn add(&mut self, role: &str, text: &str) {
        let characters = text.chars().count();
        let lengths = match role {
            "user" => &mut self.user_lengths,
            _ => &mut self.assistant_lengths,
        };
        lengths.push(characters as u32);
        self.characters += characters as u64;
        self.non_ascii_characters += text.chars().filter(|c| !c.is_ascii()).count() as u64;
    }

    /// The median of `lengths` (0 for none).
    pub fn median(lengths: &[u32]) -> u32 {
        let mut sorted = lengths.to_vec();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or(0)
    }
}

/// The text at `index`, or `""` where it is null.
fn text_at(array: &StringArray, index: usize) -> &str {
    if array.is_valid(index) {
        array.value(index)
    } else {
        ""
    }
}

/// `conversation` (a list of messages with `content` and `role`) with every message's text made
/// afresh: its length drawn from `shape` by role, its words in the script of the row's
/// `language`.
pub(super) fn fresh_conversation(
    conversation: &ArrayRef,
    languages: &StringArray,
    shape: &MessageShape,
    vocabulary: &Vocabulary,
    rng: &mut Rng,
    stats: &mut TextStats,
) -> ArrayRef {
    let list = conversation.as_list::<i32>();
    let messages = list.values().as_struct();
    let (Some(content), Some(roles)) = (
        messages.column_by_name("content"),
        messages.column_by_name("role"),
    ) else {
        return Arc::clone(conversation);
    };
    let (content, roles) = (content.as_string::<i32>(), roles.as_string::<i32>());
    let mut texts: Vec<Option<String>> = vec![None; messages.len()];
    let offsets = list.value_offsets();
    for (row, bounds) in offsets.windows(2).enumerate() {
        let script = script_of(text_at(languages, row));
        let (start, end) = (bounds[0] as usize, bounds[1] as usize);
        for (message, text) in texts.iter_mut().enumerate().take(end).skip(start) {
            if content.is_null(message) {
                continue;
            }
            let role = text_at(roles, message);
            let lengths = match role {
                "user" => shape.user,
                _ => shape.assistant,
            };
            let fresh = vocabulary.text(script, lengths.draw(rng), rng);
            stats.add(role, &fresh);
            *text = Some(fresh);
        }
    }
    let (fields, mut columns, nulls) = messages.clone().into_parts();
    let position = fields
        .iter()
        .position(|field| field.name() == "content")
        .unwrap_or(0);
    columns[position] = Arc::new(StringArray::from(texts));
    let (item, offsets, _, list_nulls) = list.clone().into_parts();
    Arc::new(ListArray::new(
        item,
        offsets,
        Arc::new(StructArray::new(fields, columns, nulls)),
        list_nulls,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_the_real_medians() {
        let mut rng = Rng::new(3);
        let mut drawn: Vec<u32> = (0..20_001)
            .map(|_| WILDCHAT.assistant.draw(&mut rng) as u32)
            .collect();
        let median = TextStats::median(&drawn);
        assert!((1_000..1_130).contains(&median), "{median}");
        drawn.sort_unstable();
        let p10 = drawn[2_000];
        assert!((320..400).contains(&p10), "{p10}");
    }

    #[test]
    fn text_has_about_the_length_asked_in_the_script_asked() {
        let vocabulary = Vocabulary::new(1);
        let mut rng = Rng::new(5);
        for (script, ascii) in [(Script::Latin, true), (Script::Han, false)] {
            let text = vocabulary.text(script, 300, &mut rng);
            let characters = text.chars().count();
            assert!((300..320).contains(&characters), "{characters}");
            assert_eq!(text.is_ascii(), ascii);
        }
    }
}
