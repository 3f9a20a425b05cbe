//! What leaves Painline as a file: the CSV of the daily series, the FHIR R4
//! bundle's resources and the SVG chart. Pure functions over stored views
//! and analytics; the service layer reads the rows and streams the result.

pub mod chart;
pub mod csv;
pub mod fhir;
