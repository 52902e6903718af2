//! Our verdict on VAT numbers, one per input line, for the differential test against
//! python-stdnum (`scripts/vat-differential.py`).
//!
//! vat-verdicts < candidates.txt
//!
//! Each line of stdin is passed to `VatNumber::parse` as it is (without its line end); each
//! line of stdout is `valid <canonical form>` or `invalid <reason>`, in input order.

use std::io::{BufRead, BufWriter, Write};

use shared::domain::vat::{VatNumber, VatNumberError};

fn main() -> std::io::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let line = line?;
        match VatNumber::parse(&line) {
            Ok(vat) => writeln!(out, "valid {vat}")?,
            Err(err) => {
                let reason = match err {
                    VatNumberError::Empty => "empty",
                    VatNumberError::UnknownCountry(_) => "country",
                    VatNumberError::Format { .. } => "format",
                    VatNumberError::Checksum { .. } => "checksum",
                };
                writeln!(out, "invalid {reason}")?;
            }
        }
    }
    out.flush()
}
