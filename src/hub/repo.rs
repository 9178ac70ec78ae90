//! A dataset repository at a revision, and the commit that revision was pinned to.

/// A dataset repository at a revision (branch, tag or commit), and the commit that revision
/// was resolved to once ([`super::HubApi::pin`]): every request then names the commit, so a
/// branch that moves during a run cannot mix two commits in one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DatasetRepo {
    id: String,
    /// As asked for.
    revision: String,
    commit: Option<String>,
}

impl DatasetRepo {
    pub(crate) fn new(id: &str, revision: &str) -> Self {
        Self {
            id: id.to_owned(),
            revision: revision.to_owned(),
            commit: None,
        }
    }

    /// The same repository and revision, pinned to `commit`.
    pub(crate) fn pinned(&self, commit: String) -> Self {
        Self {
            commit: Some(commit),
            ..self.clone()
        }
    }

    /// `owner/name`.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The branch, tag or commit asked for.
    pub(crate) fn revision(&self) -> &str {
        &self.revision
    }

    /// The commit the revision was pinned to, once it was.
    pub(crate) fn commit(&self) -> Option<&str> {
        self.commit.as_deref()
    }

    /// What requests name: the commit once pinned, else the revision.
    pub(crate) fn reference(&self) -> &str {
        self.commit.as_deref().unwrap_or(&self.revision)
    }
}

/// A full commit hash: 40 hexadecimal digits.
pub(super) fn is_commit(value: &str) -> bool {
    value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit())
}
