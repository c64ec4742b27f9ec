//! The SSH implementation of [`super::Gateway`]. (Filled in next.)
