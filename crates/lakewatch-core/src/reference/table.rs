//! The CSV the reference files are written in: a header line naming the fields, then one record
//! per line. Fields may be quoted (`"AAPL"`, as spreadsheets export them); a quoted field may
//! not hold a comma or a line break, which no symbol, date, time or code does. Blank lines and
//! lines starting with `#` are skipped. Every error names the file, the line and the field.

use chrono::{NaiveDate, NaiveTime};

use crate::contract::ContractError;

/// Reference files are small; anything larger is refused unread.
pub const MAX_BYTES: usize = 16 << 20;

/// A parsed file: its header and its records, each with its 1-based line.
#[derive(Debug)]
pub struct Table<'a> {
    origin: &'a str,
    header: Vec<&'a str>,
    records: Vec<(usize, Vec<&'a str>)>,
}

/// One record, read by field name.
#[derive(Debug, Clone, Copy)]
pub struct Record<'t, 'a> {
    table: &'t Table<'a>,
    line: usize,
    fields: &'t [&'a str],
}

impl<'a> Table<'a> {
    /// Parses `bytes`; `required` fields must be in the header, others are ignored.
    pub fn parse(bytes: &'a [u8], origin: &'a str, required: &[&str]) -> Result<Self, ContractError> {
        if bytes.len() > MAX_BYTES {
            return Err(ContractError::at(
                origin,
                None,
                format!("{} bytes, over the {MAX_BYTES}-byte limit", bytes.len()),
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            ContractError::at(origin, Some(line), "not UTF-8 text")
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
        let mut lines = lines.by_ref().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
        let Some((header_line, header)) = lines.next() else {
            return Err(ContractError::at(origin, None, format!("empty; the header line is `{}`", required.join(","))));
        };
        let header = split(header).map_err(|m| ContractError::at(origin, Some(header_line), m))?;
        for field in required {
            if !header.contains(field) {
                return Err(ContractError::at(
                    origin,
                    Some(header_line),
                    format!("the header has no `{field}` field (expected `{}`)", required.join(",")),
                ));
            }
        }
        if let Some(twice) = header.iter().enumerate().find(|(i, h)| header[..*i].contains(h)) {
            return Err(ContractError::at(origin, Some(header_line), format!("field `{}` appears twice", twice.1)));
        }
        let mut records = Vec::new();
        for (line, text) in lines {
            let fields = split(text).map_err(|m| ContractError::at(origin, Some(line), m))?;
            if fields.len() != header.len() {
                return Err(ContractError::at(
                    origin,
                    Some(line),
                    format!("{} fields where the header has {}", fields.len(), header.len()),
                ));
            }
            records.push((line, fields));
        }
        Ok(Table { origin, header, records })
    }

    /// The records in file order.
    pub fn records(&self) -> impl Iterator<Item = Record<'_, 'a>> {
        self.records.iter().map(|(line, fields)| Record { table: self, line: *line, fields })
    }
}

impl<'a> Record<'_, 'a> {
    /// The record's line in the file.
    pub fn line(&self) -> usize {
        self.line
    }

    /// An error about `field` of this record.
    pub fn error(&self, field: &str, message: impl std::fmt::Display) -> ContractError {
        ContractError::at(self.table.origin, Some(self.line), format!("field `{field}`: {message}"))
    }

    /// The field's text, or `None` when it is empty or not in the header.
    pub fn text(&self, field: &str) -> Option<&'a str> {
        let i = self.table.header.iter().position(|h| *h == field)?;
        Some(self.fields[i]).filter(|t| !t.is_empty())
    }

    /// A field that must not be empty.
    pub fn required(&self, field: &str) -> Result<&'a str, ContractError> {
        self.text(field).ok_or_else(|| self.error(field, "empty"))
    }

    /// An optional `YYYY-MM-DD` date.
    pub fn date(&self, field: &str) -> Result<Option<NaiveDate>, ContractError> {
        self.text(field)
            .map(|t| {
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map_err(|_| self.error(field, format!("{t:?} is not a YYYY-MM-DD date")))
            })
            .transpose()
    }

    /// An optional `HH:MM` or `HH:MM:SS` time.
    pub fn time(&self, field: &str) -> Result<Option<NaiveTime>, ContractError> {
        self.text(field)
            .map(|t| {
                NaiveTime::parse_from_str(t, "%H:%M:%S")
                    .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                    .map_err(|_| self.error(field, format!("{t:?} is not an HH:MM or HH:MM:SS time")))
            })
            .transpose()
    }

    /// A required positive, finite number.
    pub fn positive(&self, field: &str) -> Result<f64, ContractError> {
        let t = self.required(field)?;
        match t.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
            _ => Err(self.error(field, format!("{t:?} is not a positive number"))),
        }
    }

    /// A required symbol, checked like every symbol that becomes part of a key.
    pub fn symbol(&self, field: &str) -> Result<&'a str, ContractError> {
        let s = self.required(field)?;
        crate::contract::check_symbol(s).map_err(|m| self.error(field, m))?;
        Ok(s)
    }
}

/// Splits one line into trimmed fields, unquoting `"..."`.
fn split(line: &str) -> Result<Vec<&str>, String> {
    line.split(',')
        .enumerate()
        .map(|(i, field)| {
            let field = field.trim();
            match field.strip_prefix('"') {
                Some(rest) => rest
                    .strip_suffix('"')
                    .filter(|inner| !inner.contains('"'))
                    .map(str::trim)
                    .ok_or_else(|| format!("field {} has an unbalanced or embedded quote", i + 1)),
                None if field.contains('"') => Err(format!("field {} has a stray quote", i + 1)),
                None => Ok(field),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<(usize, Option<String>)>, String> {
        let t = Table::parse(text.as_bytes(), "reference/x.csv", &["symbol"]).map_err(|e| e.to_string())?;
        Ok(t.records().map(|r| (r.line(), r.text("listed").map(str::to_string))).collect())
    }

    #[test]
    fn headers_quotes_comments_and_errors() {
        assert_eq!(
            parse("\u{feff}# universe\nsymbol,listed,name\r\n\"AAPL\", 1980-12-12 ,Apple\n\nMSFT,,\"Microsoft\"\n"),
            Ok(vec![(3, Some("1980-12-12".into())), (5, None)])
        );
        let cases = [
            ("", "reference/x.csv: empty; the header line is `symbol`"),
            ("ticker\nAAPL\n", "reference/x.csv:1: the header has no `symbol` field (expected `symbol`)"),
            ("symbol,symbol\n", "reference/x.csv:1: field `symbol` appears twice"),
            ("symbol,listed\nAAPL\n", "reference/x.csv:2: 1 fields where the header has 2"),
            ("symbol\n\"AAPL\n", "reference/x.csv:2: field 1 has an unbalanced or embedded quote"),
            ("symbol\nAA\"PL\n", "reference/x.csv:2: field 1 has a stray quote"),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want, "{text:?}");
        }
        let bytes = [b"symbol\nAAPL\n".as_slice(), &[0xff, b'\n']].concat();
        let e = Table::parse(&bytes, "reference/x.csv", &["symbol"]).unwrap_err();
        assert_eq!(e.to_string(), "reference/x.csv:3: not UTF-8 text");
    }

    #[test]
    fn fields_are_read_and_named_in_errors() {
        let t = Table::parse(b"symbol,d,t,r\nAAPL,2025-13-01,9:3x,-2\n../x,,,\n", "f.csv", &["symbol"]).unwrap();
        let r: Vec<_> = t.records().collect();
        assert_eq!(
            r[0].date("d").unwrap_err().to_string(),
            "f.csv:2: field `d`: \"2025-13-01\" is not a YYYY-MM-DD date"
        );
        assert_eq!(
            r[0].time("t").unwrap_err().to_string(),
            "f.csv:2: field `t`: \"9:3x\" is not an HH:MM or HH:MM:SS time"
        );
        assert_eq!(r[0].positive("r").unwrap_err().to_string(), "f.csv:2: field `r`: \"-2\" is not a positive number");
        assert_eq!(r[1].positive("r").unwrap_err().to_string(), "f.csv:3: field `r`: empty");
        assert!(r[1].symbol("symbol").unwrap_err().to_string().starts_with("f.csv:3: field `symbol`: symbol \"../x\""));
        assert_eq!((r[1].date("d").unwrap(), r[1].text("nope")), (None, None));
    }
}
