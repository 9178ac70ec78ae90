//! The annotations (FORMAT.md §1, §2): which versions exist (`version`), a version's file
//! downloaded into the Hugging Face cache (`download`), and the index of the conversations it
//! selects (`index`, with the table's column types in `shape`).

mod download;
mod index;
mod shape;
mod version;

pub(crate) use download::{AnnotationFile, AnnotationFiles, AnnotationOrigin};
pub(crate) use index::selection;
pub use index::{Annotation, AnnotationError, AnnotationIndex};
pub(crate) use shape::Shape;
pub(crate) use version::{ANNOTATIONS_REPO, AnnotationVersion, VersionError, list_versions};
