//! The annotations (FORMAT.md §1, §2): which versions exist (`version`) and the index of the
//! conversations a version's annotation file selects (`index`).

mod index;
pub mod version;

pub use index::{Annotation, AnnotationError, AnnotationIndex, Shape};
