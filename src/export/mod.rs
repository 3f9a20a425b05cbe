//! What leaves Painline as a file: the CSV of the daily series, the FHIR R4
//! bundle's resources and the SVG chart. Pure functions over stored views
//! and analytics; the service layer reads the rows and streams the result.

pub mod chart;
pub mod csv;
pub mod fhir;

/// The part of a download's file name that names the patient: their
/// display name folded to ASCII (`deunicode`: "Åsa Núñez" → "asa-nunez"),
/// lower case, every run of other characters one hyphen, at most 40
/// characters; "patient" when nothing is left. Safe in a quoted
/// `Content-Disposition` file name on every platform.
pub fn file_stem(display_name: &str) -> String {
    const MOST: usize = 40;
    let folded = deunicode::deunicode(display_name).to_ascii_lowercase();
    let mut stem = String::with_capacity(MOST);
    for c in folded.chars() {
        if stem.len() >= MOST {
            break;
        }
        if c.is_ascii_alphanumeric() {
            stem.push(c);
        } else if !stem.is_empty() && !stem.ends_with('-') {
            stem.push('-');
        }
    }
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        "patient".to_owned()
    } else {
        stem.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn file_stems_are_ascii_and_safe() {
        assert_eq!(file_stem("Alex Morgan"), "alex-morgan");
        assert_eq!(
            file_stem("Åsa O'Brien-Núñez (demo)"),
            "asa-o-brien-nunez-demo"
        );
        assert_eq!(file_stem("Zoë \"Ziggy\" Łukasz\r\n"), "zoe-ziggy-lukasz");
        assert_eq!(file_stem("李小龍"), "li-xiao-long");
        assert_eq!(file_stem("  ..//\\  "), "patient");
        assert_eq!(file_stem("🙂"), "slight-smile");
        let long = file_stem(&"Bartholomew ".repeat(10));
        assert!(long.len() <= 40 && !long.ends_with('-'), "{long}");
    }
}
