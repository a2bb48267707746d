//! Bodies of the hub's site-administration and query API.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/sites`: register a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    /// Site id: lowercase letters, digits, `-` and `_`, at most 63 characters.
    pub id: String,
    /// Name shown to people; defaults to the id.
    #[serde(default)]
    pub display_name: Option<String>,
    /// IANA time zone of the site, e.g. `Europe/Rome`.
    pub tz: String,
}

/// A registered site as the hub reports it (never includes the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteInfo {
    /// Site id.
    pub id: String,
    /// Name shown to people.
    pub display_name: String,
    /// IANA time zone.
    pub tz: String,
    /// When the site was registered (RFC 3339, UTC).
    pub created_at: String,
    /// When the site last delivered a batch (RFC 3339, UTC), if ever.
    pub last_report: Option<String>,
}

/// Answer to a site registration: the token is shown this once only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteCreated {
    /// The registered site.
    pub site: SiteInfo,
    /// Bearer token the site uses to push aggregates; the hub keeps only its hash.
    pub token: String,
}

/// One stored aggregate as returned by `GET /api/v1/aggregates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAggregate {
    /// Site that reported the record.
    pub site: String,
    /// The record as last received.
    pub record: crate::AggregateRecord,
    /// When the hub stored this version (RFC 3339, UTC).
    pub received_at: String,
}

/// Answer of `GET /api/v1/aggregates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregateList {
    /// Matching records ordered by site, day, datacenter, metric.
    pub records: Vec<StoredAggregate>,
}
