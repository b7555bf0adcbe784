//! QR codes as inline SVG: one path of horizontal runs of dark modules, with the quiet
//! zone the standard asks for. No image, no script, a few hundred bytes once gzipped.

use qrcode::{Color, EcLevel, QrCode};

/// An SVG of `data` (medium error correction), labelled for screen readers; `None` if
/// the data is too long for a QR code.
pub fn svg(data: &str, label: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    const QUIET: usize = 4;
    let size = width + 2 * QUIET;
    // One stroked line per run of dark modules, moving relatively within a row: about
    // a third of the bytes of a filled rectangle per run.
    let mut path = String::new();
    for y in 0..width {
        let mut x = 0;
        let mut pen: Option<usize> = None;
        while x < width {
            if colors[y * width + x] != Color::Dark {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && colors[y * width + x] == Color::Dark {
                x += 1;
            }
            match pen {
                None => path.push_str(&format!("M{} {}.5", start + QUIET, y + QUIET)),
                Some(end) => path.push_str(&format!("m{} 0", start - end)),
            }
            path.push_str(&format!("h{}", x - start));
            pen = Some(x);
        }
    }
    let label = label
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    Some(format!(
        "<svg class=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" role=\"img\" aria-label=\"{label}\" shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"none\" stroke=\"#000\" d=\"{path}\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::svg;

    #[test]
    fn a_registration_link_fits_and_is_drawn() {
        let s = svg(
            "https://mairie.example/register?code=ACDE-FGHJ-KMNP",
            "QR code",
        )
        .expect("fits");
        assert!(s.starts_with("<svg class=\"qr\""));
        assert!(s.contains("aria-label=\"QR code\""));
        assert!(
            s.matches('M').count() >= 21,
            "a move to each row of modules"
        );
        assert!(s.matches('h').count() > 100, "draws its runs");
        assert!(svg(&"x".repeat(5000), "too long").is_none());
    }
}
