//! The site's mirror of the hub's shared catalog: [`store`] keeps the documents and the feed checkpoint in
//! `<data>/catalog.redb`, [`pull`] follows the hub's `_changes` feed into it (see the hub README, "The
//! site mirror"). Not wired into startup or entity resolution yet.

pub mod pull;
pub mod store;

pub use store::CatalogMirror;
