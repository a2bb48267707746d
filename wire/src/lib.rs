//! Wire types both Fogwhisk services speak: aggregate records and the hub API bodies.
