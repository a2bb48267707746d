//! The Fogwhisk hub: the central service every site reports to.
