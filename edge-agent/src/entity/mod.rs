//! OpenWhisk entities: names, actions, packages, triggers, rules and activations, as stored and as the API shows them.

pub mod action;
pub mod activation;
pub mod common;
pub mod name;
pub mod package;
pub mod trigger;

pub use action::{Action, ActionPut, Exec, Limits};
pub use activation::{Activation, Outcome, Response};
pub use common::{KeyVal, KeyValues};
pub use name::FullName;
pub use package::Package;
pub use trigger::{PathName, Rule, RuleLink, RuleStatus, Trigger};

use serde::{Deserialize, Serialize};

/// Any entity as the store keeps it, tagged by collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entityType", rename_all = "lowercase")]
pub enum Entity {
    /// An action.
    Action(Action),
    /// A package or binding.
    Package(Package),
    /// A trigger.
    Trigger(Trigger),
    /// A rule.
    Rule(Rule),
}

/// The API collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// `/actions`.
    Actions,
    /// `/packages`.
    Packages,
    /// `/triggers`.
    Triggers,
    /// `/rules`.
    Rules,
}

impl Collection {
    /// Name as used in URLs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Actions => "actions",
            Collection::Packages => "packages",
            Collection::Triggers => "triggers",
            Collection::Rules => "rules",
        }
    }
}

impl Entity {
    /// Which collection it belongs to.
    pub fn collection(&self) -> Collection {
        match self {
            Entity::Action(_) => Collection::Actions,
            Entity::Package(_) => Collection::Packages,
            Entity::Trigger(_) => Collection::Triggers,
            Entity::Rule(_) => Collection::Rules,
        }
    }

    /// Its path (`ns` or `ns/pkg`).
    pub fn namespace(&self) -> &str {
        match self {
            Entity::Action(a) => &a.namespace,
            Entity::Package(p) => &p.namespace,
            Entity::Trigger(t) => &t.namespace,
            Entity::Rule(r) => &r.namespace,
        }
    }

    /// Last change, epoch ms.
    pub fn updated(&self) -> u64 {
        match self {
            Entity::Action(a) => a.updated,
            Entity::Package(p) => p.updated,
            Entity::Trigger(t) => t.updated,
            Entity::Rule(r) => r.updated,
        }
    }
}
