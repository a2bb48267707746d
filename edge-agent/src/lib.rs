//! The Fogwhisk edge agent.
