//! tgate worker (built in later steps).
