//! Python `csv.writer`'s default dialect (FORMAT.md §8).

use std::io::Write;

use crate::record::review::Row;

/// Encodes rows as Python's `csv.writer` does by default: `,`, `"` quoting only where a field
/// holds `,` `"` `\r` or `\n`, inner quotes doubled, `\r\n` after each row.
pub fn encode_csv<'a>(rows: impl IntoIterator<Item = &'a Row<'a>>) -> Vec<u8> {
    let mut writer = csv_writer(Vec::new());
    for row in rows {
        writer
            .write_record(row.iter().map(|field| field.as_bytes()))
            .expect("writing to memory cannot fail");
    }
    writer.into_inner().expect("flushing to memory cannot fail")
}

fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .double_quote(true)
        .from_writer(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn row(fields: [&str; 7]) -> Row<'_> {
        fields.map(Cow::Borrowed)
    }

    #[test]
    fn csv_quotes_like_python_csv_writer() {
        let rows = [
            row([
                "plain",
                "",
                "a,b",
                "say \"hi\"",
                "line\nbreak",
                "cr\rhere",
                " padded ",
            ]),
            row(["'single'", "tab\there", "é", "", "", "", ""]),
        ];
        let encoded = String::from_utf8(encode_csv(rows.iter())).unwrap();
        assert_eq!(
            encoded,
            "plain,,\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\"cr\rhere\", padded \r\n\
             'single',tab\there,é,,,,\r\n"
        );
    }
}
