//! The table and the routes are declared in several places; these tests keep them in step.
