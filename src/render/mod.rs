//! Renderers: plans, diagnostics and apply results as text, JSON and Markdown.
//! They decide nothing; whatever they count or filter, the data provides.

pub mod apply;
