//! tgate watcher (built in later steps).
