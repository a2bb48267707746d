//! Rules every entity collection shares: loading by collection, create-or-update checks, versions, annotation merging, list paging.

use serde_json::{json, Value};

use super::error::ApiError;
use crate::entity::common::{bump_patch, valid_version, FIRST_VERSION};
use crate::entity::name::validate_segment;
use crate::entity::{Collection, Entity, KeyVal, KeyValues};

/// OpenWhisk's message for a name used by another collection.
pub const TYPE_MISMATCH: &str = "Resource by this name exists but is not in this collection.";
/// Largest parameters or annotations list, bytes.
pub const MAX_PARAMETERS_BYTES: usize = 1024 * 1024;

/// Validates a path segment taken from the URL.
pub fn segment(s: &str) -> Result<(), ApiError> {
    validate_segment(s).map_err(|e| ApiError::bad(e.to_string()))
}

/// The existing entity for a PUT: checks collection and `overwrite`.
pub fn existing_for_put(old: Option<Entity>, want: Collection, overwrite: bool) -> Result<Option<Entity>, ApiError> {
    match old {
        None => Ok(None),
        Some(e) if e.collection() != want => Err(ApiError::Conflict(TYPE_MISMATCH.into())),
        Some(_) if !overwrite => Err(ApiError::Conflict("resource already exists".into())),
        Some(e) => Ok(Some(e)),
    }
}

/// Reads an entity that must be in `want`; a name from another collection is a 409 on writes, 404 on reads.
pub fn expect(found: Option<Entity>, want: Collection) -> Result<Entity, ApiError> {
    match found {
        Some(e) if e.collection() == want => Ok(e),
        Some(_) => Err(ApiError::Conflict(TYPE_MISMATCH.into())),
        None => Err(ApiError::NotFound),
    }
}

/// The version after a PUT: given (validated), bumped, or the first.
pub fn next_version(old: Option<&str>, given: Option<String>) -> Result<String, ApiError> {
    match given {
        Some(v) if valid_version(&v) => Ok(v),
        Some(v) => Err(ApiError::bad(format!(
            "The request content was malformed:\nversion '{v}' is not a valid semantic version"
        ))),
        None => Ok(old.map(bump_patch).unwrap_or_else(|| FIRST_VERSION.into())),
    }
}

/// Annotations after an update: old minus `del`, with `new` merged on.
pub fn merge_annotations(old: &[KeyVal], new: Option<Vec<KeyVal>>, del: Option<Vec<String>>) -> Vec<KeyVal> {
    let mut out: Vec<KeyVal> = old.to_vec();
    if let Some(del) = del {
        out.retain(|kv| !del.contains(&kv.key));
    }
    if let Some(new) = new {
        out.merge(&new);
    }
    out
}

/// Refuses parameter or annotation lists that are too large or have empty keys.
pub fn check_key_values(what: &str, kvs: &[KeyVal]) -> Result<(), ApiError> {
    if kvs.iter().any(|kv| kv.key.is_empty()) {
        return Err(ApiError::bad(format!("The request content was malformed:\n{what} keys may not be empty")));
    }
    let size = serde_json::to_vec(kvs).map(|v| v.len()).unwrap_or(0);
    if size > MAX_PARAMETERS_BYTES {
        return Err(ApiError::TooLarge(format!(
            "The size of the {what} ({size} bytes) exceeds the allowed {MAX_PARAMETERS_BYTES} bytes."
        )));
    }
    Ok(())
}

/// Lists the entities under `prefix` that `row` keeps, as a page of `collection` (paging and `count` from `q`).
pub fn list_page(
    store: &crate::store::Store,
    prefix: &str,
    collection: &str,
    q: &super::extract::QueryMap,
    row: impl Fn(Entity) -> Option<(u64, Value)>,
) -> Result<Value, ApiError> {
    let (skip, limit) = q.paging(collection)?;
    let count = q.flag("count", false)?;
    let rows = store.list(prefix)?.into_iter().filter_map(row).collect();
    Ok(page(rows, collection, skip, limit, count))
}

/// A page of rows, newest first; or `{collection: N}` with `count`.
fn page(mut rows: Vec<(u64, Value)>, collection: &str, skip: usize, limit: usize, count: bool) -> Value {
    if count {
        // CouchDB's count with a skip, as OpenWhisk's countCollectionInNamespace asks it.
        return json!({ collection: rows.len().saturating_sub(skip) });
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    Value::Array(rows.into_iter().skip(skip).take(limit).map(|(_, v)| v).collect())
}
