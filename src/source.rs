//! The two source datasets that hold the conversation text (FORMAT.md §1).

use std::fmt;

/// A source dataset, in the order the join scans them (FORMAT.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Lmsys,
    Wildchat,
}

impl Source {
    pub const ALL: [Source; 2] = [Source::Lmsys, Source::Wildchat];

    /// The sources of `requested` (`--sources`), each once, in scan order.
    pub fn included(requested: &[Source]) -> Vec<Source> {
        Source::ALL
            .into_iter()
            .filter(|source| requested.contains(source))
            .collect()
    }

    /// The value of `dataset_source` in the annotation file.
    pub fn name(self) -> &'static str {
        match self {
            Source::Lmsys => "lmsys",
            Source::Wildchat => "wildchat",
        }
    }

    pub fn from_dataset_source(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|source| source.name() == name)
    }

    /// The dataset repository on the Hub.
    pub fn repo_id(self) -> &'static str {
        match self {
            Source::Lmsys => "lmsys/lmsys-chat-1m",
            Source::Wildchat => "allenai/WildChat-1M",
        }
    }

    /// The column that holds the conversation ID.
    pub fn id_column(self) -> &'static str {
        match self {
            Source::Lmsys => "conversation_id",
            Source::Wildchat => "conversation_hash",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
