//! tgate api (built in later steps).
